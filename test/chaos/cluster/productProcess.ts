import { setTimeout as sleep } from 'node:timers/promises';
import { startNodeProcess, type ManagedProcess } from '../../helpers/processes.js';
import { waitFor } from '../../helpers/waitFor.js';
import type { DatabaseLink } from './databaseLink.js';

type ProductProcessKind = 'api' | 'worker';

/** An exit the suite did not cause, after the process had started (a crash): a finding, and restarted. */
export type UnexpectedExit = { process: string; at: number; code: number | null; signal: string | null };

/** A process that exited before it was ready (started again, up to MAX_STARTS times): reported, not a violation. */
export type StartupExit = UnexpectedExit & { output: string };

const MAX_STARTS = 5;
const RESTART_PAUSE_MS = 1_000;

/**
 * One api or worker of the cluster: the built production entrypoint as a child process, started again (same port,
 * same database link) after each kill, and ready when it answers over HTTP: an api's `/health`, a worker's
 * `/metrics` (served once its queue workers run).
 */
export type ProductProcess = {
  readonly name: string;
  readonly kind: ProductProcessKind;
  /** The api's base URL, or the worker's metrics URL. */
  readonly url: string;
  readonly link: DatabaseLink;
  isRunning: () => boolean;
  /** Starts it unless it runs, and waits until it is ready (bounded). */
  start: () => Promise<void>;
  /** SIGKILL, and waits for the exit. */
  kill: () => Promise<void>;
  /** SIGSTOP: frozen with its connections open and its locks held. */
  freeze: () => void;
  /** SIGCONT. */
  resume: () => void;
  /** SIGTERM (after SIGCONT) and waits for its shutdown. */
  stop: () => Promise<void>;
  /** The output of every generation of the process so far, oldest first. */
  logs: () => string[];
};

export type ProductProcessSpec = {
  name: string;
  kind: ProductProcessKind;
  script: string;
  nodeFlags: readonly string[];
  /** Its environment; DATABASE_URL is the link's. */
  env: Record<string, string>;
  link: DatabaseLink;
  /** The api's PORT, or the worker's METRICS_PORT. */
  port: number;
  readyTimeoutMs: number;
  onUnexpectedExit: (exit: UnexpectedExit) => void;
  onStartupExit: (exit: StartupExit) => void;
};

const answersReady = async (url: string): Promise<boolean> => {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await response.body?.cancel();
  return response.status === 200;
};

export const createProductProcess = (spec: ProductProcessSpec): ProductProcess => {
  const url = `http://127.0.0.1:${spec.port}`;
  const probeUrl = spec.kind === 'api' ? `${url}/health` : `${url}/metrics`;
  const generations: ManagedProcess[] = [];
  let current: ManagedProcess | undefined;
  let exitExpected = false;
  const isRunning = () => current !== undefined && current.child.exitCode === null && current.child.signalCode === null;

  let starting: Promise<void> | undefined;
  /** Whether the current generation has answered once: an exit before that is a failed start, after it a crash. */
  let ready = false;
  const spawnGeneration = (): ManagedProcess => {
    exitExpected = false;
    ready = false;
    const managed = startNodeProcess(spec.script, [], spec.env, spec.name, { nodeFlags: spec.nodeFlags });
    current = managed;
    generations.push(managed);
    void managed.exited.then(({ code, signal }) => {
      if (!exitExpected && current === managed && ready) spec.onUnexpectedExit({ process: spec.name, at: Date.now(), code, signal });
    });
    return managed;
  };
  const launch = async () => {
    for (let attempt = 1; ; attempt += 1) {
      const managed = isRunning() && current !== undefined ? current : spawnGeneration();
      const outcome = await waitFor(
        async () => {
          if (managed.child.exitCode !== null || managed.child.signalCode !== null) return 'exited';
          return (await answersReady(probeUrl)) && 'ready';
        },
        { timeoutMs: spec.readyTimeoutMs, intervalMs: 100, description: `${spec.name} to answer ${probeUrl}` },
      );
      if (outcome === 'ready') {
        ready = true;
        return;
      }
      // A process that gives up while starting (the platform starts it again, as the suite does here) is reported,
      // with its last words; one that cannot start at all ends the run.
      const lastWords = managed.output().slice(-2_000);
      spec.onStartupExit({ process: spec.name, at: Date.now(), code: managed.child.exitCode, signal: managed.child.signalCode, output: lastWords });
      if (attempt >= MAX_STARTS) throw new Error(`${spec.name} exited while starting, ${attempt} times:\n${lastWords}`);
      await sleep(RESTART_PAUSE_MS);
    }
  };

  // One start at a time: a restart after a crash and the suite's recovery may ask at once.
  const start = (): Promise<void> => {
    starting ??= launch().finally(() => {
      starting = undefined;
    });
    return starting;
  };

  const signalled = async (signals: readonly NodeJS.Signals[]) => {
    const managed = current;
    if (managed === undefined || !isRunning()) return;
    exitExpected = true;
    for (const signal of signals) managed.child.kill(signal);
    await managed.exited;
  };

  return {
    name: spec.name,
    kind: spec.kind,
    url,
    link: spec.link,
    isRunning,
    start,
    kill: () => signalled(['SIGKILL']),
    freeze: () => {
      if (isRunning()) current?.child.kill('SIGSTOP');
    },
    resume: () => {
      if (isRunning()) current?.child.kill('SIGCONT');
    },
    stop: async () => {
      const managed = current;
      if (managed === undefined || !isRunning()) return;
      exitExpected = true;
      managed.child.kill('SIGCONT');
      await managed.stop('SIGTERM', 30_000);
    },
    logs: () => generations.map((generation) => generation.output()),
  };
};
