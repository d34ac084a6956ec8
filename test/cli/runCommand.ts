import { spawn } from 'node:child_process';
import { REPO_ROOT } from '../helpers/processes.js';

export type Run = { code: number | null; stdout: string; stderr: string; json: () => any };

/** Runs a command from the repository root to its end (bounded), with a minimal environment. */
export const runCommand = (command: string, args: readonly string[], env: Record<string, string | undefined>, timeoutMs = 30_000): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, json: () => JSON.parse(stdout) });
    });
  });
