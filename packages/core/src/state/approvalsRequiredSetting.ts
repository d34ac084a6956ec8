import { sql, type CommonQueryMethods, type DatabasePool } from 'slonik';
import { z } from 'zod';
import { runInTransaction } from '../db/runInTransaction.js';
import { appendAuditEntries, readAuditChainHead } from './audit/appendAuditEntries.js';
import type { AuditKeyring } from './audit/auditKeyring.js';
import { AUDIT_KINDS } from '@valhalla/contract';

/**
 * APPROVALS_REQUIRED is read by two processes: the api (which makes change requests) and the worker (which applies an
 * enable or a release only with an approved request). Set differently, the worker's four-eyes check is off while the
 * api still asks for approvals. The one value both go by is the api's, recorded in the audit log (this event, whenever
 * the value an api starts with differs from the recorded one); a worker with another value refuses to start.
 * No event yet means the default, 1.
 */
export const APPROVALS_SETTING_ACTION = 'settings.approvals_required';
const DEFAULT_APPROVALS_REQUIRED = 1;

const recorded = z.object({ id: z.number(), value: z.number().nullable(), release: z.string().nullable() });

const readNewest = (db: CommonQueryMethods) =>
  db.maybeOne(sql.type(recorded)`
    SELECT id, (details->>'approvals_required')::int AS value, details->>'release' AS release
    FROM public.governance_audit_log
    WHERE kind = 'event' AND action = ${APPROVALS_SETTING_ACTION}
    ORDER BY id DESC LIMIT 1
  `);

/** The APPROVALS_REQUIRED the api recorded last (the default, 1, when none did), with the entry that says so. */
export const readRecordedApprovalsRequired = async (db: CommonQueryMethods): Promise<{ value: number; entryId: number | null; release: string | null }> => {
  const row = await readNewest(db);
  return { value: row?.value ?? DEFAULT_APPROVALS_REQUIRED, entryId: row?.id ?? null, release: row?.release ?? null };
};

/**
 * The api's startup step: records its APPROVALS_REQUIRED as the one workers must share, as an audit event, when it
 * differs from the value recorded so far. Under the chain lock, so api instances starting together record a change
 * once. Database work only.
 * @returns the value recorded before, and whether this call recorded a new one.
 */
export const recordApprovalsRequired = async (
  pool: DatabasePool,
  keyring: AuditKeyring,
  setting: { value: number; release: string },
): Promise<{ previous: number; changed: boolean }> =>
  runInTransaction(pool, async (tx) => {
    const head = await readAuditChainHead(tx);
    const previous = (await readNewest(tx))?.value ?? DEFAULT_APPROVALS_REQUIRED;
    if (previous === setting.value) return { previous, changed: false };
    await appendAuditEntries(
      tx,
      [
        {
          kind: AUDIT_KINDS.event,
          action: APPROVALS_SETTING_ACTION,
          actor: 'system',
          reason: `APPROVALS_REQUIRED is ${setting.value} (was ${previous}): workers must run with the same value`,
          details: { approvals_required: setting.value, previous, release: setting.release },
        },
      ],
      keyring,
      head,
    );
    return { previous, changed: true };
  });
