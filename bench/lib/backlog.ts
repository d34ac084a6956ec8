import type { Queue } from 'bullmq';
import { JOB_CATALOG, JOB_NAMES, type GoLiveChangePayload } from '@valhalla/contract';

/** Enables and releases, alternately: changes that queue behind the row-1 lock and are decided (applied or rejected). */
const backlogPayload = (serial: number): GoLiveChangePayload =>
  serial % 2 === 0
    ? { action: 'go_live.enable', actor: 'bench', reason: `backlog ${serial}` }
    : { action: 'kill_switch.release', actor: 'bench', reason: `backlog ${serial}` };

/**
 * A backlog of queued changes on `queue` (the governance queue of some prefix), kept at `size` jobs waiting or
 * prioritised: call `topUp` before each sample. Jobs carry the catalog's options (priority, attempts), as the api
 * enqueues them, or none at all (`plain`: a client without priority, which BullMQ serves before every prioritised
 * job). Completed jobs are removed, so Redis holds the backlog and not its history.
 */
export const createBacklog = (queue: Queue, options: { size: number; plain?: boolean }) => {
  const catalogOptions = JOB_CATALOG[JOB_NAMES.goLiveChange].options;
  let serial = 0;
  return {
    topUp: async (): Promise<void> => {
      const counts = await queue.getJobCounts('prioritized', 'waiting');
      const missing = options.size - (counts.prioritized ?? 0) - (counts.waiting ?? 0);
      if (missing <= 0) return;
      await queue.addBulk(
        Array.from({ length: missing }, () => {
          serial += 1;
          const data = backlogPayload(serial);
          return { name: JOB_NAMES.goLiveChange, data, opts: options.plain === true ? { removeOnComplete: true } : { ...catalogOptions(data), removeOnComplete: true } };
        }),
      );
    },
    /** Removes what is still waiting and resolves once no job of the queue is active either. */
    drain: async (): Promise<void> => {
      await queue.drain(true);
      const deadline = Date.now() + 60_000;
      while (((await queue.getJobCounts('active')).active ?? 0) > 0) {
        if (Date.now() > deadline) throw new Error(`jobs of ${queue.name} still active 60 s after the backlog was drained`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
};
