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
