import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacHex } from './auditKeyring.js';

describe('hmacHex', () => {
  it('equals HMAC-SHA256 for short, block-sized and long keys, and for repeated use of one key', () => {
    for (const secret of ['k', 'x'.repeat(32), 'y'.repeat(64), 'z'.repeat(65), 'ü'.repeat(40)]) {
      const key = { id: 'k', key: secret };
      for (const text of ['', 'abc', 'ünïcode ✓', 'a'.repeat(10_000)]) {
        expect(hmacHex(key, text)).toBe(createHmac('sha256', secret).update(text, 'utf8').digest('hex'));
        expect(hmacHex(key, text)).toBe(createHmac('sha256', secret).update(text, 'utf8').digest('hex'));
      }
    }
  });
});
