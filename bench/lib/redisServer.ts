/**
 * A redis-server of one's own on a port of its own (noeviction; no persistence unless asked), for measures and tests
 * that stop, freeze or empty Redis: the shared one is never touched. Used by the bench and, through
 * test/helpers/redisServer.ts, by the tests; it imports nothing of ours so that both can load it. Needs `redis-server`
 * on the PATH.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';

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
  isRunning: () => boolean;
};

export type OwnRedisOptions = {
  /**
   * Persist every write to an append-only file in this directory (`appendonly yes`): a restart after `kill` loads it
   * back, as a Redis with persistence does after a crash. Without it the server keeps nothing.
   */
  appendOnlyDir?: string;
  /** How long a start may take (loading a large append-only file takes a while); default 10 s. */
  startTimeoutMs?: number;
  /** The port to listen on (a free one: the bench's and the tests' port pickers differ). */
  port: number;
};

const answersPing = async (port: number): Promise<boolean> => {
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
};

/** Starts the server and resolves once it answers PING. @throws when it does not within `startTimeoutMs`. */
export const startRedisServer = async (options: OwnRedisOptions): Promise<OwnRedis> => {
  const { port } = options;
  let child: ChildProcess | undefined;
  const isRunning = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const persistence = options.appendOnlyDir === undefined ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--dir', options.appendOnlyDir];
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--maxmemory-policy', 'noeviction'], {
      stdio: 'ignore',
    });
    const timeoutMs = options.startTimeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    while (!(await answersPing(port))) {
      if (!isRunning()) throw new Error(`redis-server on port ${port} exited at start (is redis-server on the PATH?)`);
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
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
  return { url: `redis://127.0.0.1:${port}`, port, kill, restart: start, stop: kill, freeze: signal('SIGSTOP'), resume: signal('SIGCONT'), isRunning };
};
