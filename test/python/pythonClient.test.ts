import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../helpers/database.js';
import { startLiveSystem } from '../helpers/liveSystem.js';
import { REPO_ROOT } from '../helpers/processes.js';

const run = promisify(execFile);
const PYTHON_DIR = join(REPO_ROOT, 'clients/python');

const database = useTestDatabase();

/**
 * clients/python/valhalla_golive.py is tested in Python, with the standard library's unittest, against the real api
 * and worker started here (test_valhalla_golive.py drives them through the control server: restart, SIGSTOP).
 */
describe('the Python client (python3 -m unittest)', () => {
  it('passes its tests against the real api', async () => {
    // Started inside the test: the tests restart the api, and a process started in a test belongs to it.
    const system = await startLiveSystem(database.current);
    const result = await run('python3', ['-m', 'unittest', '-v', 'test_valhalla_golive'], {
      cwd: PYTHON_DIR,
      timeout: 240_000,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', ...system.env },
    })
      .catch((error: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`python3 -m unittest failed:\n${error.stderr ?? ''}\n${error.stdout ?? ''}\n${error.message}`);
      })
      .finally(() => system.close());
    process.stderr.write(result.stderr);
    // unittest reports on stderr: every test ran and none was skipped.
    expect(result.stderr).toMatch(/^OK$/m);
    expect(result.stderr).not.toMatch(/skipped/);
    expect(result.stderr).toMatch(/^Ran (\d+) tests? in/m);
    expect(Number(/^Ran (\d+) tests? in/m.exec(result.stderr)?.[1])).toBeGreaterThanOrEqual(9);
  }, 300_000);
});
