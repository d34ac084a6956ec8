import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { MigrationError } from '../errors/index.js';

/** One folder of migrations/: a revision with its SQL and the link to the previous one. */
export type Revision = {
  readonly id: string;
  readonly previous: string | null;
  readonly description: string;
  /** `"breaking": true` in revision.json: code that does not know this revision must not run on a database that has it. */
  readonly breaking: boolean;
  readonly up: string;
  readonly down: string;
  readonly verify: string;
  /** sha256 over revision.json, up.sql, down.sql and verify.sql (in that order, length-prefixed). */
  readonly checksum: string;
};

/** Revisions in chain order, root first. */
export type RevisionChain = { readonly revisions: readonly Revision[]; readonly head: string; readonly root: string };

export const REVISION_FILES = ['revision.json', 'up.sql', 'down.sql', 'verify.sql'] as const;
const REVISION_ID = /^[0-9]{8}_[a-z0-9_]+$/;

const revisionMeta = z
  .object({ previous: z.string().nullable(), description: z.string().default(''), breaking: z.boolean().default(false) })
  .strict();

const checksumOf = (files: readonly string[]): string => {
  const hash = createHash('sha256');
  for (const content of files) hash.update(`${Buffer.byteLength(content)}\n`).update(content);
  return hash.digest('hex');
};

const readRevision = async (dir: string, id: string): Promise<Revision> => {
  const contents = await Promise.all(
    REVISION_FILES.map((file) =>
      readFile(join(dir, id, file), 'utf8').catch((cause: unknown) => {
        throw new MigrationError('MIGRATION_CHAIN_INVALID', `revision ${id} is missing ${file}`, { revision: id, cause });
      }),
    ),
  );
  const [metaText = '', up = '', down = '', verify = ''] = contents;
  let meta: z.infer<typeof revisionMeta>;
  try {
    meta = revisionMeta.parse(JSON.parse(metaText));
  } catch (cause) {
    throw new MigrationError('MIGRATION_CHAIN_INVALID', `revision ${id}: revision.json must be {"previous": string|null, "description": string, "breaking"?: boolean}`, {
      revision: id,
      cause,
    });
  }
  return { id, previous: meta.previous, description: meta.description, breaking: meta.breaking, up, down, verify, checksum: checksumOf(contents) };
};

/**
 * Reads every revision folder and orders them into one chain.
 * @throws MigrationError MIGRATION_CHAIN_INVALID naming the revision when a link is missing, there is not exactly one
 *   root, two revisions share a previous revision (two heads), or a revision is not reachable from the root.
 */
export const loadRevisionChain = async (dir: string): Promise<RevisionChain> => {
  const entries = await readdir(dir, { withFileTypes: true });
  const ids = entries.filter((e) => e.isDirectory() && REVISION_ID.test(e.name)).map((e) => e.name).sort();
  if (ids.length === 0) throw new MigrationError('MIGRATION_CHAIN_INVALID', `no revisions found in ${dir}`);
  const revisions = await Promise.all(ids.map((id) => readRevision(dir, id)));
  return orderChain(revisions);
};

/** Orders revisions root-first by their previous links (exported for tests of broken chains). */
export const orderChain = (revisions: readonly Revision[]): RevisionChain => {
  const byId = new Map(revisions.map((r) => [r.id, r]));
  const roots = revisions.filter((r) => r.previous === null);
  if (roots.length !== 1) {
    throw new MigrationError(
      'MIGRATION_CHAIN_INVALID',
      `expected exactly one root revision (previous: null), found ${roots.length}: ${roots.map((r) => r.id).join(', ') || 'none'}`,
    );
  }
  const next = new Map<string, Revision>();
  for (const revision of revisions) {
    if (revision.previous === null) continue;
    if (!byId.has(revision.previous)) {
      throw new MigrationError('MIGRATION_CHAIN_INVALID', `revision ${revision.id} names unknown previous revision ${revision.previous}`, {
        revision: revision.id,
      });
    }
    const sibling = next.get(revision.previous);
    if (sibling !== undefined) {
      throw new MigrationError(
        'MIGRATION_CHAIN_INVALID',
        `two heads: revisions ${sibling.id} and ${revision.id} both follow ${revision.previous}`,
        { revision: revision.id },
      );
    }
    next.set(revision.previous, revision);
  }
  const root = roots[0] as Revision;
  const ordered: Revision[] = [root];
  for (let current = next.get(root.id); current !== undefined; current = next.get(current.id)) ordered.push(current);
  if (ordered.length !== revisions.length) {
    const orphan = revisions.find((r) => !ordered.includes(r));
    throw new MigrationError('MIGRATION_CHAIN_INVALID', `revision ${orphan?.id} is not reachable from root ${root.id}`, {
      revision: orphan?.id ?? root.id,
    });
  }
  return { revisions: ordered, head: (ordered[ordered.length - 1] as Revision).id, root: root.id };
};
