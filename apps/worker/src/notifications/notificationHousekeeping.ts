import type { DatabasePool, Logger, NotificationSettings } from '@valhalla/core';
import { listResealable, openSecret, purgeDeliveries, replaceSealed, sealSecret } from '@valhalla/core/notifications';

/** Housekeeping runs when the worker starts and then this often. */
const INTERVAL_MS = 10 * 60_000;
/** Deliveries deleted per statement (short transactions, however large the history). */
const PURGE_BATCH = 5_000;

export type Housekeeping = { stop(): Promise<void> };

/**
 * The delivery history's upkeep, safe to run on every worker at once:
 * - purges delivered and skipped deliveries older than NOTIFICATION_RETENTION_DAYS (and those of deleted
 *   subscriptions);
 * - seals again, with the current key, every target and secret sealed with an older key of NOTIFICATION_SECRET_KEYS,
 *   so an old key can be removed once the subscriptions show the new `secret_key_id` (key rotation). A value whose
 *   key is not held is left as it is (its deliveries fail as SECRET_UNAVAILABLE, visibly).
 */
export const startNotificationHousekeeping = (options: { pool: DatabasePool; settings: NotificationSettings; log: Logger }): Housekeeping => {
  const { pool, settings, log } = options;
  let running: Promise<void> = Promise.resolve();
  const reseal = async () => {
    const keys = settings.secretKeys;
    if (keys === undefined) return;
    let resealed = 0;
    for (const row of await listResealable(pool, keys.current.id)) {
      try {
        const target = sealSecret(keys, openSecret(keys, row.target_ciphertext, `${row.id}:target`), `${row.id}:target`);
        const secret = row.secret_ciphertext === null ? null : sealSecret(keys, openSecret(keys, row.secret_ciphertext, `${row.id}:secret`), `${row.id}:secret`);
        if (await replaceSealed(pool, { id: row.id, from: { target: row.target_ciphertext, secret: row.secret_ciphertext }, to: { target, secret } })) resealed += 1;
      } catch (error) {
        log.warn({ subscription: row.id, err: error instanceof Error ? error.message : String(error) }, 'a notification secret cannot be sealed again with the current key');
      }
    }
    if (resealed > 0) log.info({ resealed, keyId: keys.current.id }, 'notification secrets sealed again with the current key');
  };
  const purge = async () => {
    let purged = 0;
    for (;;) {
      const batch = await purgeDeliveries(pool, { retentionDays: settings.retentionDays, batch: PURGE_BATCH });
      purged += batch;
      if (batch < PURGE_BATCH) break;
    }
    if (purged > 0) log.info({ purged, retentionDays: settings.retentionDays }, 'old notification deliveries purged');
  };
  const run = () => {
    running = (async () => {
      for (const [what, step] of [['reseal', reseal], ['purge', purge]] as const) {
        await step().catch((error: unknown) => log.warn({ err: error, step: what }, 'notification housekeeping failed; it runs again later'));
      }
    })();
  };
  run();
  const timer = setInterval(run, INTERVAL_MS);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
};
