import pg from 'pg';

/**
 * A gate for a job under test: a trigger waits on `pg_advisory_xact_lock(key)` while the test holds that lock on a
 * session of its own, and the job goes on when the test calls open(). Unlike a pg_sleep window, the test decides
 * when, however slow the machine is.
 */
export const closeGate = async (databaseUrl: string, key: number): Promise<{ open: () => Promise<void> }> => {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  // A test that failed leaves its gate open to the database's teardown, which ends the session: not an uncaught error.
  client.on('error', () => {});
  await client.query('SELECT pg_advisory_lock($1)', [key]);
  let opened: Promise<void> | undefined;
  return {
    open: () => {
      opened ??= client.query('SELECT pg_advisory_unlock($1)', [key]).then(() => client.end());
      return opened;
    },
  };
};
