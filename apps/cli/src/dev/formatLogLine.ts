/**
 * Turns the api's and worker's JSON log lines (pino) into one readable line each for `npm run dev`. HTTP request
 * lines are debug output here (they would scroll the banner away): shown only when LOG_LEVEL is debug or trace.
 */
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const OMITTED = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'name', 'v']);

const isRequestLine = (entry: Record<string, unknown>): boolean =>
  entry['msg'] === 'incoming request' || entry['msg'] === 'request completed' || ('req' in entry && 'reqId' in entry) || ('res' in entry && 'responseTime' in entry);

const compact = (value: unknown): string => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
};

/** The line to print, or undefined to drop it. Lines that are not JSON are printed as they are. */
export const formatLogLine = (line: string, showRequests: boolean): string | undefined => {
  if (!line.startsWith('{')) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (isRequestLine(entry) && !showRequests) return undefined;
  const time = typeof entry['time'] === 'string' ? entry['time'].slice(11, 23) : '';
  const level = LEVELS[Number(entry['level'])] ?? String(entry['level']);
  const rest = Object.entries(entry)
    .filter(([key]) => !OMITTED.has(key))
    .map(([key, value]) => `${key}=${compact(value)}`)
    .join(' ');
  return `${time} ${level} ${typeof entry['msg'] === 'string' ? entry['msg'] : ''}${rest === '' ? '' : `  ${rest}`}`;
};
