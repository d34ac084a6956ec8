import { describe, expect, it } from 'vitest';
import { stableStringify } from './canonicalEntry.js';

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
