import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onTestFinished } from 'vitest';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
export const REPORT_PATH = fileURLToPath(new URL('../../../shared/seed/database-hardening-report.md', import.meta.url));
export const MIGRATE_CLI = 'apps/cli/dist/migrate.js';

/** The report's own SQL blocks (DDL and seeding), so the comparison is against the origin text, not a copy. */
export const reportSql = async (): Promise<string> => {
  const report = await readFile(REPORT_PATH, 'utf8');
  const blocks = [...report.matchAll(/```sql\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
  if (blocks.length < 3) throw new Error('expected the DDL and seed SQL blocks in the report');
  return blocks.join('\n');
};

/** A scratch copy of migrations/ that a test may edit, removed when the test finishes. */
export const copyMigrations = async (): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'valhalla-migrations-'));
  await cp(MIGRATIONS_DIR, dir, { recursive: true });
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
};
