import pg from 'pg';

/**
 * The bench's own LISTEN on the api's live-state channel: when a commit that engaged the kill switch was notified
 * (Date.now(), the system clock other processes stamp with too). Splits an engage's latency into the change itself
 * (POST → commit) and what follows it (commit → the client).
 */
export const listenForEngages = async (databaseUrl: string) => {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  let engagedAt: number | undefined;
  client.on('notification', (message) => {
    if (/"kill_switch_engaged": ?true/.test(message.payload ?? '')) engagedAt ??= Date.now();
  });
  await client.query('LISTEN valhalla_live_state');
  return {
    /** Forgets the last engage: call before posting the next one. */
    reset: () => {
      engagedAt = undefined;
    },
    engagedAt: () => engagedAt,
    close: () => client.end(),
  };
};
