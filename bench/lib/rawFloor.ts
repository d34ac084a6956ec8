import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { rawChangeTransaction } from './rawChange.ts';

/**
 * The floor every engage and change latency is compared with: `samples` raw change transactions (rawChange.ts) one
 * after another on one connection of `pool`, alternately engaging and releasing so that each one changes the state.
 * Resolves with each transaction's time in ms, BEGIN to COMMIT as the client sees it.
 */
export const timeRawChanges = async (pool: pg.Pool, samples: number): Promise<number[]> => {
  const client = await pool.connect();
  try {
    const engaged = (await client.query<{ k: boolean }>('SELECT kill_switch_engaged AS k FROM public.go_live_state WHERE id = 1')).rows[0]?.k === true;
    const times: number[] = [];
    for (let i = 0; i < samples; i += 1) {
      const started = performance.now();
      await rawChangeTransaction(client, `raw-${randomUUID()}`, (i % 2 === 0) !== engaged);
      times.push(performance.now() - started);
    }
    return times;
  } finally {
    client.release();
  }
};
