/**
 * The exact text an audit entry's keyed hash covers. Written and verified by this code only (never by PostgreSQL),
 * so it is defined on JSON values: object keys sorted, `undefined` members dropped, as JSON.stringify would write
 * them. jsonb normalises key order and number text, and a JSON value read back from jsonb stringifies the same way.
 */
export const stableStringify = (value: unknown): string => {
  // Plain loops instead of filter/sort/map chains: this runs for every row of a full verification.
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i += 1) {
      const item: unknown = value[i];
      out += (i === 0 ? '' : ',') + (item === undefined ? 'null' : stableStringify(item));
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const member = record[key];
    if (member === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(key)}:${stableStringify(member)}`;
    first = false;
  }
  return `${out}}`;
};

/** Every stored column of an entry but `hash`, with `created_at` in the canonical text form (UTC, microseconds). */
export type CanonicalFields = {
  id: number;
  prev_hash: string | null;
  key_id: string;
  kind: string;
  job_id: string | null;
  action: string;
  outcome: string | null;
  actor: string;
  reason: string;
  before: unknown;
  after: unknown;
  unmet_conditions: readonly string[];
  request_id: string | null;
  created_at: string;
  details: unknown;
};

export const CANONICAL_VERSION = 'valhalla-audit-v3';

export const canonicalEntryText = (entry: CanonicalFields): string =>
  stableStringify([
    CANONICAL_VERSION,
    entry.prev_hash,
    entry.id,
    entry.key_id,
    entry.kind,
    entry.job_id,
    entry.action,
    entry.outcome,
    entry.actor,
    entry.reason,
    entry.before,
    entry.after,
    entry.unmet_conditions,
    entry.request_id,
    entry.created_at,
    entry.details,
  ]);
