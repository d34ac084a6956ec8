import type { Row } from '../measure/context.ts';

/**
 * The bench's results as an aligned text table. The target column appears only when the run can judge targets: a
 * --quick run (a few hundred changes, one round) is a smoke test of the harness, too small to pass or fail any.
 */
export const formatResultsTable = (rows: readonly Row[], judgeTargets: boolean): string => {
  const header = ['measure', 'value', 'baseline', 'ratio', ...(judgeTargets ? ['target'] : [])];
  // The spread across rounds follows the figure the target judges: the ratio when there is one, else the value.
  const spread = (row: Row, suffix: string) =>
    row.perRound === undefined || row.perRound.length < 2 ? '' : ` (rounds ${Math.min(...row.perRound).toLocaleString('en-US')}–${Math.max(...row.perRound).toLocaleString('en-US')}${suffix})`;
  const body = rows.map((row) => [
    row.measure,
    `${row.value.toLocaleString('en-US')} ${row.unit}${row.ratio === undefined ? spread(row, ` ${row.unit}`) : ''}`,
    row.baseline === undefined ? '' : `${row.baseline.toLocaleString('en-US')} ${row.unit}`,
    row.ratio === undefined ? '' : `${row.ratio}×${spread(row, '×')}`,
    ...(judgeTargets ? [row.target === undefined ? '' : `${row.target} ${row.met === true ? '✔' : '✘'}`] : []),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((cells) => (cells[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...body.map(line)].join('\n');
};
