import { changeResult, metadataChange, migrationVerifyPayload, reasonSchema } from '@valhalla/core';
import { z } from 'zod';

/**
 * Request schemas: strict objects (unknown fields are rejected), strings that PostgreSQL can store exactly as sent
 * (no NUL, no lone surrogates), and query values parsed from their text with explicit bounds.
 */
const storable = <T extends z.ZodType<string>>(schema: T) =>
  schema
    .refine((value) => !value.includes('\u0000'), 'must not contain NUL characters')
    .refine((value) => value.isWellFormed(), 'must be well-formed Unicode (no lone surrogates)');

const reason = storable(reasonSchema).refine((value) => value.trim().length > 0, 'reason must not be blank');

export const goLiveBody = z.strictObject({ enabled: z.boolean(), reason });
export const killSwitchBody = z.strictObject({ engaged: z.boolean(), reason });

const metadataFields = metadataChange.shape;
export const systemMetadataBody = z
  .strictObject({
    version: storable(metadataFields.version.unwrap()).optional(),
    backend_complete: metadataFields.backend_complete,
    notes: storable(metadataFields.notes.unwrap()).optional(),
    reason,
  })
  .refine(
    (body) => body.version !== undefined || body.backend_complete !== undefined || body.notes !== undefined,
    'set at least one of version, backend_complete, notes',
  );

/** POST /verify may come without a body at all (Fastify then has `null`); an absent body means `{}`. */
export const verifyBody = z
  .strictObject({ release: storable(migrationVerifyPayload.shape.release.unwrap()).optional() })
  .nullish();

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
});

export const verificationsQuery = z.strictObject({ limit: limitParam(VERIFICATIONS_PAGE.max).optional() });

/** Job ids are ours (`idem-…`, uuids, `startup-verify-…`) or BullMQ's numbers. */
export const JOB_ID_PATTERN = /^[A-Za-z0-9_.-]{1,200}$/;
export const jobParams = z.strictObject({ id: z.string().regex(JOB_ID_PATTERN, 'must be 1-200 characters of letters, digits, _ . -') });

export const jobAccepted = z.object({ jobId: z.string(), status: z.literal('queued') });
export type JobAccepted = z.infer<typeof jobAccepted>;

/** Break-glass: an engage or disable applied by the api itself while Redis was unavailable (CONTRACT.md). */
export const jobCompleted = z.object({ jobId: z.string(), status: z.literal('completed'), result: changeResult });
export type JobCompleted = z.infer<typeof jobCompleted>;

/** POST /api/jobs/:id/retry: why the operator retries the job (validated like every other reason). */
export const jobRetryBody = z.strictObject({ reason });
