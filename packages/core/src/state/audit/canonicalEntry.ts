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

/** Returned by sortedCopy for a value whose copy JSON.stringify would not write as stableStringify does. */
const UNSUPPORTED = Symbol('unsupported');

/**
 * Object.keys(record).sort(), by insertion sort for the few keys a typical member has: Array#sort took 0.2 µs of the
 * 0.65 µs that copying and writing a six-key state snapshot costs. Both order by UTF-16 code units.
 */
const sortedKeys = (record: object): string[] => {
  const keys = Object.keys(record);
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i += 1) {
    const key = keys[i] as string;
    let j = i - 1;
    for (; j >= 0 && (keys[j] as string) > key; j -= 1) keys[j + 1] = keys[j] as string;
    keys[j + 1] = key;
  }
  return keys;
};

/**
 * A copy of a JSON value whose objects hold their keys in sorted order, so that the native JSON.stringify writes
 * exactly stableStringify's text (about twice as fast for a whole entry: a full verification does this per row).
 * Returns UNSUPPORTED where the two could differ: keys JSON.stringify would reorder (array indices such as "2", so
 * any key starting with a digit) or a copy could not hold (`__proto__`), and members that are not JSON values.
 */
const sortedCopy = (value: unknown): unknown => {
  if (typeof value !== 'object') {
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === undefined ? value : UNSUPPORTED;
  }
  if (value === null) return null;
  if (Array.isArray(value)) {
    const copy: unknown[] = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i += 1) {
      const item = sortedCopy(value[i]);
      if (item === UNSUPPORTED) return UNSUPPORTED;
      copy[i] = item;
    }
    return copy;
  }
  const record = value as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const key of sortedKeys(record)) {
    const first = key.charCodeAt(0);
    if ((first >= 48 && first <= 57) || key === '__proto__') return UNSUPPORTED;
    const member = sortedCopy(record[key]);
    if (member === UNSUPPORTED) return UNSUPPORTED;
    copy[key] = member;
  }
  return copy;
};

/** The entry's fields in canonical order, its JSON members passed through `member`. */
const entryFields = (entry: CanonicalFields, member: (value: unknown) => unknown): unknown[] => [
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
  member(entry.before),
  member(entry.after),
  member(entry.unmet_conditions),
  entry.request_id,
  entry.created_at,
  member(entry.details),
];

/** stableStringify of the entry's fields in canonical order (natively when sortedCopy can make that equal). */
export const canonicalEntryText = (entry: CanonicalFields): string => {
  const fields = entryFields(entry, sortedCopy);
  return fields.includes(UNSUPPORTED) ? stableStringify(entryFields(entry, (value) => value)) : JSON.stringify(fields);
};
