import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/processes.js';

/**
 * The Node guard under a real old Node: these machines (and Debian's default) have Node 20 at /usr/bin/node, while
 * Node 24 is first on PATH. Every entry command must print the guard's message first and stop.
 */
const OLD_NODE = '/usr/bin/node';
const oldNodeEnv = { ...process.env, PATH: `/usr/bin:/bin:${process.env.PATH ?? ''}` };
const required = Number(/(\d+)/.exec((JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as { engines: { node: string } }).engines.node)?.[1]);

const run = (command: string, args: string[]) =>
  spawnSync(command, args, { cwd: REPO_ROOT, env: oldNodeEnv, encoding: 'utf8', timeout: 60_000 });

const expectGuardMessage = (text: string): void => {
  expect(text).toContain(`Valhalla needs Node.js ${required} or newer; this is Node 20.`);
  expect(text).toContain(`nvm install ${required} && nvm use ${required}`);
  expect(text).toContain(`fnm install ${required}`);
  expect(text).toContain(`volta install node@${required}`);
  expect(text).toMatch(new RegExp(`npm install --prefix ~/\\.node${required} node-linux-\\w+@${required}`));
  // A new terminal must find it again, or the next command meets the guard.
  expect(text).toContain(`nvm alias default ${required}`);
  expect(text).toContain('~/.bashrc');
};

describe('Node version guard', () => {
  it('runs on the old Node itself and names found, needed and how to get it', () => {
    const version = spawnSync(OLD_NODE, ['--version'], { encoding: 'utf8' }).stdout.trim();
    expect(version, 'this test needs the machine\'s old Node at /usr/bin/node').toMatch(/^v20\./);
    const result = run(OLD_NODE, ['scripts/check-node.cjs']);
    expect(result.status).toBe(1);
    expectGuardMessage(result.stderr);
  });

  it('passes silently on the Node that runs the tests', () => {
    const result = spawnSync(process.execPath, ['scripts/check-node.cjs'], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
  });

  it.each([
    ['npm run migrate -- status', ['run', 'migrate', '--', 'status']],
    ['npm run dev', ['run', 'dev']],
    ['npm test', ['test']],
    ['npm run bench', ['run', 'bench']],
  ])('%s stops with the guard before anything else runs', (_name, args) => {
    const result = run('/usr/bin/npm', args);
    expect(result.status).not.toBe(0);
    expectGuardMessage(result.stderr);
    expect(result.stderr).not.toMatch(/TypeError|Building first|turbo/);
  });

  it('npx valhalla stops with the guard', () => {
    const result = run(OLD_NODE, ['apps/cli/bin/valhalla.js', 'status']);
    expect(result.status).toBe(1);
    expectGuardMessage(result.stderr);
  });
});
