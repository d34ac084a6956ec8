import { userInfo } from 'node:os';
import { z } from 'zod';
import { actorField } from '@valhalla/contract';
import { computed, optional, text } from './variable.js';

const positiveMilliseconds = z.string().transform((raw, ctx) => {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    ctx.addIssue({ code: 'custom', message: 'must be a positive whole number of milliseconds' });
    return z.NEVER;
  }
  return value;
});

/** The audit log's rule for actor names, as every job payload's actor: one line, shown as it reads. */
const actorName = z.string().transform((raw, ctx) => {
  const checked = actorField.safeParse(raw);
  if (checked.success) return checked.data;
  ctx.addIssue({ code: 'custom', message: `must be a one-line name (${checked.error.issues.map((issue) => issue.message).join('; ')})` });
  return z.NEVER;
});

const osActor = (): string => {
  try {
    return `os:${userInfo().username}`;
  } catch {
    return 'unknown';
  }
};

/** Variables of the migrate command (`npm run migrate`, `npx valhalla migrate`, the pre-deploy `node apps/cli/dist/migrate.js up`). */
export const migrateVariables = {
  MIGRATION_LOCK_TIMEOUT_MS: optional({
    schema: positiveMilliseconds,
    type: 'positive integer (ms)',
    defaultText: "120000 (the migrator's default)",
    readBy: ['migrate'],
    doc: 'How long to wait for another runner holding the migration lock before giving up.',
  }),
  MIGRATION_REVISION_LOCK_TIMEOUT_MS: optional({
    schema: positiveMilliseconds,
    type: 'positive integer (ms)',
    defaultText: "5000 (the migrator's default)",
    readBy: ['migrate'],
    doc: "Each revision's PostgreSQL lock_timeout: a revision that cannot take its table locks within it fails instead of blocking traffic.",
  }),
  MIGRATION_ACTOR: computed({
    schema: actorName,
    type: 'one-line name',
    defaultFrom: osActor,
    defaultText: 'os:<the user running the command>',
    readBy: ['migrate'],
    doc: 'Who runs stamp and repair, as recorded in the audit log.',
  }),
  MIGRATION_EXPORT_DIR: optional({
    ...text(),
    type: 'path',
    defaultText: 'migration-exports (in the working directory)',
    readBy: ['migrate'],
    doc: 'Where down --export-and-drop writes the rows of the tables it drops.',
  }),
  VALHALLA_DATABASE_SOURCE: optional({
    ...text(),
    defaultText: 'DATABASE_URL',
    readBy: ['migrate'],
    doc: 'Internal: set by npm run dev on the migrate it starts, to say where DATABASE_URL came from (the embedded PostgreSQL).',
  }),
} as const;
