import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isProcessAlive } from './devSession.js';

/**
 * Pid files of what `npm run dev` starts, so that a run after a SIGKILLed supervisor can find what the killed run
 * left behind (its inner process, api, worker, redis-server, PostgreSQL) and stop it instead of failing on a locked
 * data folder. A pid is only acted on when /proc shows the process is still the one recorded (pids are reused).
 */
const PID_DIR = 'pids';

/** What a recorded process's command line must contain to be ours. */
export type PidRecord = { name: string; pid: number; marker: string };

export const recordPid = async (devDir: string, record: PidRecord): Promise<void> => {
  await mkdir(join(devDir, PID_DIR), { recursive: true });
  await writeFile(join(devDir, PID_DIR, `${record.name}.json`), JSON.stringify(record), { mode: 0o600 });
};

export const forgetPid = (devDir: string, name: string): Promise<void> => rm(join(devDir, PID_DIR, `${name}.json`), { force: true });

const commandLine = async (pid: number): Promise<string | undefined> =>
  readFile(`/proc/${pid}/cmdline`, 'utf8').then((text) => text.replaceAll('\0', ' '), () => undefined);

const waitForExit = async (pid: number, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !isProcessAlive(pid);
};

const stop = async (pid: number, signal: NodeJS.Signals, timeoutMs: number): Promise<void> => {
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  if (!(await waitForExit(pid, timeoutMs))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone between the check and the kill.
    }
    await waitForExit(pid, 5_000);
  }
};

/**
 * Stops the processes a previous run left running. The inner dev process goes first: given SIGTERM it stops its own
 * children in order. PostgreSQL is found through its own `postmaster.pid` in the data folder and given a fast
 * shutdown (SIGINT).
 */
export const stopStaleProcesses = async (devDir: string, postgresDataDir: string, log: (line: string) => void): Promise<void> => {
  const files = await readdir(join(devDir, PID_DIR)).catch(() => [] as string[]);
  const records: PidRecord[] = [];
  for (const file of files) {
    const record = await readFile(join(devDir, PID_DIR, file), 'utf8').then((text) => JSON.parse(text) as PidRecord, () => undefined);
    if (record !== undefined) records.push(record);
    await rm(join(devDir, PID_DIR, file), { force: true });
  }
  records.sort((a, b) => (a.name === 'dev' ? -1 : b.name === 'dev' ? 1 : 0));
  for (const record of records) {
    if (record.pid === process.pid || !isProcessAlive(record.pid)) continue;
    if (!((await commandLine(record.pid)) ?? '').includes(record.marker)) continue;
    log(`stopping ${record.name} (pid ${record.pid}) left running by an earlier npm run dev`);
    await stop(record.pid, 'SIGTERM', record.name === 'dev' ? 60_000 : 30_000);
  }
  const postmaster = await readFile(join(postgresDataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  const postgresPid = Number(postmaster?.split('\n')[0]);
  if (Number.isInteger(postgresPid) && postgresPid > 0 && isProcessAlive(postgresPid) && ((await commandLine(postgresPid)) ?? '').includes('postgres')) {
    log(`stopping embedded PostgreSQL (pid ${postgresPid}) left running by an earlier npm run dev`);
    await stop(postgresPid, 'SIGINT', 20_000);
  }
};
