import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A development operator token, generated once and kept in the dev folder (`actor:token`, the GOVERNANCE_TOKENS
 * form), so the printed curl lines keep working. The file is made 0600 on every run, also when an older one was
 * left readable by others.
 */
export const loadOrCreateDevToken = async (devDir: string): Promise<{ actor: string; token: string }> => {
  const file = join(devDir, 'dev-token');
  if (existsSync(file)) {
    await chmod(file, 0o600);
    const [actor = 'developer', token = ''] = (await readFile(file, 'utf8')).trim().split(':');
    if (token.length >= 24) return { actor, token };
  }
  const token = randomBytes(24).toString('hex');
  await writeFile(file, `developer:${token}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return { actor: 'developer', token };
};
