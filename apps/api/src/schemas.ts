import { actorField, metadataFields, reasonField, releaseField } from '@valhalla/contract';
import { z } from 'zod';

/**
 * Request schemas: strict objects (unknown fields are rejected) built from the job contract's field schemas, so a
 * body the api accepts is a payload the worker accepts (no NUL, lone surrogates or control characters), and query
 * values parsed from their text with explicit bounds.
 */
const reason = reasonField;

export const goLiveBody = z.strictObject({ enabled: z.boolean(), reason });
export const killSwitchBody = z.strictObject({ engaged: z.boolean(), reason });

export const systemMetadataBody = z
  .strictObject({ ...metadataFields, reason })
  .refine(
    (body) => body.version !== undefined || body.backend_complete !== undefined || body.notes !== undefined,
    'set at least one of version, backend_complete, notes',
  );

/** POST /verify may come without a body at all (Fastify then has `null`); an absent body means `{}`. */
export const verifyBody = z.strictObject({ release: releaseField.optional() }).nullish();

export const AUDIT_PAGE = { default: 50, max: 200 } as const;
export const VERIFICATIONS_PAGE = { default: 20, max: 200 } as const;

const limitParam = (max: number) =>
  z
    .string()
    .regex(/^[0-9]{1,6}$/, `must be an integer from 1 to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(1, `must be an integer from 1 to ${max}`).max(max, `must be an integer from 1 to ${max}`));

export const auditQuery = z.strictObject({
  limit: limitParam(AUDIT_PAGE.max).optional(),
  before: z
    .string()
    .regex(/^[1-9][0-9]{0,14}$/, 'must be the id of an audit entry (a positive integer)')
    .transform(Number)
    .optional(),
  actor: actorField.optional().describe('Only entries by this actor'),
  action: z.string().regex(/^[a-z_]{1,40}\.[a-z_]{1,40}$/, 'must be an action name such as kill_switch.engage').optional().describe('Only entries of this action'),
  outcome: z.enum(['applied', 'unchanged', 'rejected']).optional().describe('Only entries with this outcome'),
});

export const verificationsQuery = z.strictObject({ limit: limitParam(VERIFICATIONS_PAGE.max).optional() });

/** Ids the api and BullMQ give: uuids, `idem-…`, `startup-verify-…`, counters, the scheduler's `repeat:<id>:<millis>`. */
const JOB_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,200}$/;
export const jobParams = z.strictObject({ id: z.string().regex(JOB_ID_PATTERN, 'must be 1-200 characters of letters, digits, _ . : -') });

/** POST /api/jobs/:id/retry: why the operator retries the job (validated like every other reason). */
export const jobRetryBody = z.strictObject({ reason });
/** A body that only gives a reason: change request steps, queue pause and resume. */
export const reasonBody = z.strictObject({ reason });
