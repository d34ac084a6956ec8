import { z } from 'zod';
import { GOVERNANCE_ACTIONS, type GovernanceAction } from './vocabulary.js';
import { freeText, lineText } from './storableText.js';

/**
 * Payload schemas of every job, with the strict text rules of storableText.ts. The worker validates each job with
 * them whoever added it, and the api's HTTP bodies are built from the same field schemas (the api's request schemas).
 */

/** Who asked for the change: from the api's token, or named by another producer. */
export const actorField = lineText(1, 200, 'actor');
/** The contract: a reason is required, 1–500 characters, not blank. */
export const reasonField = freeText(1, 500, 'reason').refine((value) => value.trim().length > 0, 'reason must not be blank');
/** Correlates the request that enqueued the job with the worker's logs and the audit row (optional). */
const requestIdField = lineText(1, 200, 'requestId').optional();

/** What a metadata.update may set: at least one field. */
export const metadataFields = {
  version: lineText(1, 100, 'version').optional(),
  backend_complete: z.boolean().optional(),
  notes: freeText(0, 2000, 'notes').optional(),
};
export const metadataChangeField = z
  .strictObject(metadataFields)
  .refine((m) => Object.values(m).some((value) => value !== undefined), 'metadata must set at least one field');

/**
 * Four-eyes fields, set by the api on the job of an approved change request: the worker checks the request in
 * PostgreSQL (the fields alone prove nothing); approvedBy is recorded for whoever reads the job.
 */
const approvalFields = {
  changeRequestId: lineText(1, 100, 'changeRequestId').optional(),
  approvedBy: z.array(actorField).max(20).optional(),
};

const simpleChange = <A extends GovernanceAction>(action: A) =>
  z.strictObject({ action: z.literal(action), actor: actorField, reason: reasonField, requestId: requestIdField, ...approvalFields });

/**
 * Set by the api on an engage or a disable it queued while PostgreSQL was unreachable, with the Idempotency-Key it
 * could not claim then: the worker claims it when it applies the change, so that the key stays bound to this request
 * (the same key with another request is then 409 IDEMPOTENCY_CONFLICT, as always). Other producers leave it out.
 */
const keyClaimField = z.strictObject({
  key: lineText(1, 200, 'idempotency.key'),
  requestHash: z.string().regex(/^[0-9a-f]{64}$/, 'idempotency.requestHash must be a sha256 in hex'),
  route: lineText(1, 200, 'idempotency.route'),
});

const safetyChange = <A extends GovernanceAction>(action: A) => simpleChange(action).extend({ idempotency: keyClaimField.optional() });

export const goLiveChangePayload = z.discriminatedUnion('action', [
  simpleChange(GOVERNANCE_ACTIONS.goLiveEnable),
  safetyChange(GOVERNANCE_ACTIONS.goLiveDisable),
  safetyChange(GOVERNANCE_ACTIONS.killSwitchEngage),
  simpleChange(GOVERNANCE_ACTIONS.killSwitchRelease),
  z.strictObject({
    action: z.literal(GOVERNANCE_ACTIONS.metadataUpdate),
    actor: actorField,
    reason: reasonField,
    requestId: requestIdField,
    metadata: metadataChangeField,
  }),
]);
export type GoLiveChangePayload = z.infer<typeof goLiveChangePayload>;

export const releaseField = lineText(1, 200, 'release');
export const migrationVerifyPayload = z.strictObject({
  release: releaseField.optional(),
  actor: actorField,
  requestId: requestIdField,
  /** How much of the audit chain to verify: every row (default), or only the rows after the last checkpoint. */
  auditCheck: z.enum(['full', 'incremental']).optional(),
});
export type MigrationVerifyPayload = z.infer<typeof migrationVerifyPayload>;
