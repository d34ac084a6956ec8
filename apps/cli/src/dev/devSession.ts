import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What a running `npm run dev` tells the other commands run inside the project: where its API and database are and
 * which token to use. Written (0600: it holds the database password and the token) once the api is healthy, removed
 * when dev stops. A session whose supervisor is gone (SIGKILL) is stale and ignored.
 */
export type DevSession = {
  pid: number;
  apiUrl: string;
  databaseUrl: string;
  /** The operator token (VALHALLA_TOKEN), without the `actor:` prefix. */
  token: string;
  startedAt: string;
};

const SESSION_FILE = 'session.json';
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

/** The dev state folder: VALHALLA_DEV_DIR (parsed by the caller), else `.dev/` at the repository root. */
export const devDirFrom = (configured: string | undefined): string => configured ?? join(repoRoot, '.dev');

export const isProcessAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export const writeDevSession = async (devDir: string, session: DevSession): Promise<void> => {
  const file = join(devDir, SESSION_FILE);
  await writeFile(file, `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
};

export const removeDevSession = (devDir: string): Promise<void> => rm(join(devDir, SESSION_FILE), { force: true });

/** The running dev session, or undefined when there is none or its process is gone. */
export const readDevSession = async (devDir: string): Promise<DevSession | undefined> => {
  let parsed: Partial<DevSession>;
  try {
    parsed = JSON.parse(await readFile(join(devDir, SESSION_FILE), 'utf8')) as Partial<DevSession>;
  } catch {
    return undefined;
  }
  const complete =
    typeof parsed.pid === 'number' &&
    typeof parsed.apiUrl === 'string' &&
    typeof parsed.databaseUrl === 'string' &&
    typeof parsed.token === 'string';
  return complete && isProcessAlive(parsed.pid as number) ? (parsed as DevSession) : undefined;
};
