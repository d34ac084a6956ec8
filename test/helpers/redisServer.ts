import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { pickPort } from '../../apps/cli/src/dev/freePort.js';
import { track } from './leaks.js';
import { waitFor } from './waitFor.js';

/** A free TCP port on 127.0.0.1, chosen by the kernel (the dev script's own port picker, with no preference). */
export const freePort = (): Promise<number> => pickPort();

export type OwnRedis = {
  url: string;
  port: number;
  /** Stops the server (SIGKILL: data is lost, as on a crash). */
  kill: () => Promise<void>;
  /** Starts it again on the same port: empty, or from its append-only file when started with `appendOnlyDir`. */
  restart: () => Promise<void>;
  stop: () => Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open, commands are read and not answered until `resume`. */
  freeze: () => void;
  /** Lets a frozen server run again (SIGCONT): it then runs every command it read meanwhile. */
  resume: () => void;
};

export type OwnRedisOptions = {
  /**
   * Persist every write to an append-only file in this directory (`appendonly yes`): a restart after `kill` loads it
   * back, as a Redis with persistence does after a crash. Without it the server keeps nothing.
   */
  appendOnlyDir?: string;
  /** How long a start may take (loading a large append-only file takes a while); default 10 s. */
  startTimeoutMs?: number;
  /** The port to listen on (default: a free one the kernel picks). */
  port?: number;
};

/**
 * A redis-server of the test's own on a free port (noeviction; no persistence unless `appendOnlyDir`), for tests that
 * stop Redis. Needs `redis-server` on the PATH (CI installs it).
 */
export const startOwnRedis = async (options: OwnRedisOptions = {}): Promise<OwnRedis> => {
  const port = options.port ?? (await freePort());
  let child: ChildProcess | undefined;
  const isRunning = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const persistence = options.appendOnlyDir === undefined ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--dir', options.appendOnlyDir];
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--maxmemory-policy', 'noeviction'], {
      stdio: 'ignore',
    });
    await waitFor(async () => {
      const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } finally {
        probe.disconnect();
      }
    }, { timeoutMs: options.startTimeoutMs ?? 10_000, description: `redis-server on port ${port}` });
  };
  await start();
  const signal = (name: NodeJS.Signals) => () => {
    if (isRunning()) child?.kill(name);
  };
  const kill = async () => {
    if (!isRunning() || child === undefined) return;
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    // A frozen process takes SIGKILL too; SIGCONT first keeps the exit prompt either way.
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await exited;
  };
  const own: OwnRedis = { url: `redis://127.0.0.1:${port}`, port, kill, restart: start, stop: kill, freeze: signal('SIGSTOP'), resume: signal('SIGCONT') };
  return track(own, { description: `redis-server on port ${port}`, isOpen: isRunning, close: kill });
};
