/**
 * `npm run chaos -- --minutes N`: the fault-injection run. 2 apis and 2 workers (the production entrypoints) on a
 * database and a Redis of the run's own, keyed HTTP clients and a plain BullMQ producer, a fault every 10-20 s; then
 * recovery, drain and the checks. Prints the report, writes the JSON result (--out), and exits 0 when every check
 * passed, 1 when one failed, 2 when the run could not be carried out (or the command line is wrong), 130 when
 * interrupted. See bench/RESULTS.md, "Fault run".
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CHAOS_USAGE, ChaosUsageError, parseChaosOptions, type ChaosOptions } from './chaosOptions.js';
import { formatChaosReport } from './report/formatChaosReport.js';
import { runChaos } from './runChaos.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

let options: ChaosOptions;
try {
  options = parseChaosOptions(process.argv.slice(2), process.env);
} catch (error) {
  if (!(error instanceof ChaosUsageError)) throw error;
  log(`chaos: ${error.message}\n${CHAOS_USAGE}`);
  process.exit(2);
}

// Ctrl-C or a SIGTERM ends the run early but still stops every process it started and drops its database.
const aborter = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`chaos: ${signal}: stopping the run and cleaning up`);
    aborter.abort();
  });
}

try {
  const { result, startedAt } = await runChaos(options, { log, signal: aborter.signal });
  await mkdir(dirname(options.out), { recursive: true });
  await writeFile(options.out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(formatChaosReport(result, startedAt));
  process.stdout.write(`result written to ${options.out}\n`);
  process.exitCode = result.passed ? 0 : 1;
} catch (error) {
  log(`chaos: the run could not be carried out: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = aborter.signal.aborted ? 130 : 2;
}
