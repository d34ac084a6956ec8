/** Query parameters whose values are safe and useful in logs; every other value is replaced. */
const LOGGABLE_QUERY_PARAMETERS: ReadonlySet<string> = new Set(['limit', 'before', 'status', 'release']);

/**
 * A URL for the log: the path as is, and the query string with the value of every parameter not known to be harmless
 * replaced by `[redacted]`, so a token sent as `?access_token=` (or under any other name) never reaches a log line.
 */
export const redactUrl = (url: string): string => {
  const start = url.indexOf('?');
  if (start < 0) return url;
  const pairs = url
    .slice(start + 1)
    .split('&')
    .map((pair) => {
      const separator = pair.indexOf('=');
      const name = separator < 0 ? pair : pair.slice(0, separator);
      if (separator < 0) return LOGGABLE_QUERY_PARAMETERS.has(name) ? pair : name.length > 64 ? '[redacted]' : name;
      return LOGGABLE_QUERY_PARAMETERS.has(name) ? pair : `${name.length > 64 ? '[redacted]' : name}=[redacted]`;
    });
  return `${url.slice(0, start)}?${pairs.join('&')}`;
};
