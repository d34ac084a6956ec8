/** Plain-text tables for people; `--json` prints the API's JSON instead. */

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNPRINTABLE = /[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/g;
const ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text from the API as one visible line: a reason may hold line breaks (the contract allows them) and anyone with an
 * operator token writes reasons, so a break printed raw could draw a fake row or a fake `live true` under the real
 * one. Line breaks, tabs, other control characters and bidirectional controls are shown escaped (`\n`, `\u202e`).
 */
const oneLine = (value: string): string =>
  value.replace(UNPRINTABLE, (char) => ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);

const text = (value: unknown): string => {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return oneLine(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
};

export const table = (rows: readonly Record<string, unknown>[], columns: readonly string[]): string => {
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => text(row[column]).length)));
  const line = (values: readonly string[]) => values.map((value, i) => value.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((row) => line(columns.map((c) => text(row[c]))))].join('\n');
};

export const keyValues = (pairs: readonly [string, unknown][]): string => {
  const width = Math.max(...pairs.map(([key]) => key.length));
  return pairs.map(([key, value]) => `${key.padEnd(width)}  ${text(value)}`).join('\n');
};
