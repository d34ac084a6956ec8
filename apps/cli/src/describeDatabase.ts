/** `host:port/database as user` for messages: which database a command touches, never its password. */
export const describeDatabase = (databaseUrl: string): string => {
  try {
    const url = new URL(databaseUrl);
    const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || '(default database)';
    const user = url.username === '' ? '' : ` as ${decodeURIComponent(url.username)}`;
    return `${url.hostname || 'localhost'}:${url.port || '5432'}/${database}${user}`;
  } catch {
    return '(a DATABASE_URL that is not a URL)';
  }
};

/**
 * Set by `npm run dev` on the migrate process it starts: where the DATABASE_URL it passes came from (the embedded
 * PostgreSQL), so that migrate does not claim the user set DATABASE_URL. Internal to the CLI; nobody else sets it.
 */
export const DATABASE_SOURCE_VARIABLE = 'VALHALLA_DATABASE_SOURCE';
