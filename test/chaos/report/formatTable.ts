/** An aligned plain-text table: a header, a rule, and the rows (numbers right-aligned). */
export const formatTable = (header: readonly string[], rows: readonly (readonly (string | number | null)[])[]): string => {
  const cells = rows.map((row) => row.map((cell) => (cell === null ? '-' : typeof cell === 'number' ? cell.toLocaleString('en-US') : cell)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === 'number' || row[i] === null));
  const widths = header.map((title, i) => Math.max(title.length, ...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]) =>
    row.map((cell, i) => (numeric[i] === true ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...cells.map(line)].join('\n');
};
