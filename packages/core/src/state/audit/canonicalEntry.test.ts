import { describe, expect, it } from 'vitest';
import { CANONICAL_VERSION, canonicalEntryText, stableStringify, type CanonicalFields } from './canonicalEntry.js';

describe('stableStringify', () => {
  it('writes JSON with sorted keys and without undefined members, like JSON.stringify otherwise', () => {
    expect(stableStringify({ b: 1, a: [true, null, undefined, 'x"y'], c: undefined, d: { z: 0.5, y: -2 } })).toBe(
      '{"a":[true,null,null,"x\\"y"],"b":1,"d":{"y":-2,"z":0.5}}',
    );
    const value = { notes: 'ünïcode \u2028 \n', nested: [{ k: 1 }], n: null };
    expect(JSON.parse(stableStringify(value))).toEqual(value);
  });

  it('gives the same text for a value read back from jsonb (keys reordered)', () => {
    const written = { version: '1.0.0', backend_complete: false, go_live_enabled: true };
    const readBack = JSON.parse('{"version": "1.0.0", "go_live_enabled": true, "backend_complete": false}') as unknown;
    expect(stableStringify(readBack)).toBe(stableStringify(written));
  });
});

describe('canonicalEntryText', () => {
  const entry = (members: Pick<CanonicalFields, 'before' | 'after' | 'details'>): CanonicalFields => ({
    id: 7,
    prev_hash: 'a'.repeat(64),
    key_id: 'k1',
    kind: 'change',
    job_id: null,
    action: 'kill_switch.engage',
    outcome: 'applied',
    actor: 'ops "quoted" \u2028',
    reason: 'ünïcode \ud800 lone surrogate',
    unmet_conditions: ['b', 'a'],
    request_id: null,
    created_at: '2026-01-01T00:00:00.000000Z',
    ...members,
  });
  // The definition: stableStringify of the fields in this order. The fast path must write the same text for every
  // JSON value, including those it hands back to stableStringify (keys JSON.stringify would reorder, `__proto__`).
  const reference = (fields: CanonicalFields) =>
    stableStringify([
      CANONICAL_VERSION,
      fields.prev_hash,
      fields.id,
      fields.key_id,
      fields.kind,
      fields.job_id,
      fields.action,
      fields.outcome,
      fields.actor,
      fields.reason,
      fields.before,
      fields.after,
      fields.unmet_conditions,
      fields.request_id,
      fields.created_at,
      fields.details,
    ]);

  it('equals the reference text for nested, reordered, index-like, unusual and undefined members', () => {
    const cases: Pick<CanonicalFields, 'before' | 'after' | 'details'>[] = [
      { before: { live: false, notes: null, version: '1.0.0', go_live_enabled: false }, after: {}, details: {} },
      { before: { b: { d: [1, { z: 1, a: 2 }], c: -0 }, a: [] }, after: [null, undefined, 'x'], details: { n: 1e21, f: 0.1, big: 2 ** 53 } },
      { before: { 10: 'ten', 2: 'two', a: 1 }, after: { '1a': true, b: false }, details: { nested: { 3: [], 1: {} } } },
      { before: JSON.parse('{"__proto__": {"x": 1}, "a": 1}') as unknown, after: { '': '', é: 1, e: 2, Z: 3 }, details: { u: undefined, v: 1 } },
      { before: { '\ud83d\ude00': 1, '\uffff': 2 }, after: 'text', details: null },
      // More keys than the insertion sort takes (Array#sort then), in reverse order.
      { before: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`key${String.fromCharCode(122 - i)}`, i])), after: {}, details: {} },
    ];
    for (const members of cases) expect(canonicalEntryText(entry(members))).toBe(reference(entry(members)));
  });
});
