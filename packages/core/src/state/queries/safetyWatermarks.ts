import { z } from 'zod';
import { NO_WATERMARKS, type SafetyWatermarks } from '../rules/rules.js';

/** Row 1 of governance_safety_watermarks as jsonb (`to_jsonb(w)`), or null when there is no row yet. */
export const watermarksJson = z
  .object({
    engage_ms: z.number().nullable(),
    disable_ms: z.number().nullable(),
    // Absent while the database is at a revision before 20260301_acceptance_record (a rolling deploy).
    engage_seq: z.number().nullable().optional(),
    disable_seq: z.number().nullable().optional(),
    engage_direct_ms: z.number().nullable().optional(),
    disable_direct_ms: z.number().nullable().optional(),
  })
  .nullable();

/** The rules' watermarks from the stored row (none when there is no row). */
export const toSafetyWatermarks = (row: z.infer<typeof watermarksJson>): SafetyWatermarks =>
  row === null
    ? NO_WATERMARKS
    : {
        engageMs: row.engage_ms,
        disableMs: row.disable_ms,
        engageSeq: row.engage_seq ?? null,
        disableSeq: row.disable_seq ?? null,
        engageDirectMs: row.engage_direct_ms ?? null,
        disableDirectMs: row.disable_direct_ms ?? null,
      };
