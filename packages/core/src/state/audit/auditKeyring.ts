import { hash } from 'node:crypto';

/** One HMAC key from `AUDIT_HMAC_KEYS`. The id is stored with every entry it signs; the key never leaves the app. */
export type AuditKey = { readonly id: string; readonly key: string };

/** The keys the application holds: the first signs new entries, every one verifies. */
export type AuditKeyring = { readonly signing: AuditKey; readonly byId: ReadonlyMap<string, AuditKey> };

const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * The key used when `AUDIT_HMAC_KEYS` is unset outside production (dev, tests). It is public, so entries signed with
 * it prove nothing; production refuses to start without real keys.
 */
export const DEVELOPMENT_AUDIT_KEY: AuditKey = Object.freeze({ id: 'dev', key: 'valhalla-development-audit-key-not-a-secret' });

export const createAuditKeyring = (keys: readonly AuditKey[]): AuditKeyring => {
  const [signing] = keys;
  if (signing === undefined) throw new Error('an audit keyring needs at least one key');
  return Object.freeze({ signing, byId: new Map(keys.map((key) => [key.id, key])) });
};

/**
 * Parses `keyid:key,keyid:key` (the key may contain `:`; only the first one separates). Returns the keys or the
 * problems (never throws), so the config can report them under the variable's name.
 */
export const parseAuditKeys = (raw: string, options: { minKeyLength: number }): { keys: AuditKey[]; problems: string[] } => {
  const keys: AuditKey[] = [];
  const problems: string[] = [];
  const entries = raw.split(',').map((entry) => entry.trim()).filter((entry) => entry.length > 0);
  entries.forEach((entry, index) => {
    const separator = entry.indexOf(':');
    const id = separator <= 0 ? '' : entry.slice(0, separator);
    const key = entry.slice(separator + 1);
    if (!KEY_ID_PATTERN.test(id)) {
      problems.push(`entry ${index + 1} is not keyid:key (key id: 1-64 letters, digits, _ . -)`);
    } else if (key.length < options.minKeyLength) {
      problems.push(`entry ${index + 1} (key id ${id}): key must be at least ${options.minKeyLength} characters`);
    } else if (/\s/.test(key)) {
      problems.push(`entry ${index + 1} (key id ${id}): key must not contain white space`);
    } else if (keys.some((other) => other.id === id)) {
      problems.push(`entry ${index + 1}: key id ${id} is used by another entry`);
    } else {
      keys.push({ id, key });
    }
  });
  return { keys, problems };
};

const BLOCK_BYTES = 64;
const DIGEST_BYTES = 32;

/**
 * Per key (RFC 2104): the inner pad followed by room for the message, and the outer pad followed by room for the
 * inner digest. Each HMAC writes into them and makes two one-shot `hash` calls: no Hash objects per call, which in a
 * full verification of a large log cost more than the hashing (measured for a 700-byte entry: 3.5 µs with copied
 * Hash states, 2.0 µs with createHmac, 1.0 µs this way). Safe to reuse: nothing awaits between writing and hashing.
 */
type Pads = { inner: Buffer; outer: Buffer };
const padded = new WeakMap<AuditKey, Pads>();

const padsOf = (key: AuditKey): Pads => {
  const cached = padded.get(key);
  if (cached !== undefined) return cached;
  const raw = Buffer.from(key.key, 'utf8');
  const block = Buffer.alloc(BLOCK_BYTES);
  (raw.length > BLOCK_BYTES ? hash('sha256', raw, 'buffer') : raw).copy(block);
  const pads = { inner: Buffer.alloc(BLOCK_BYTES + 4096), outer: Buffer.alloc(BLOCK_BYTES + DIGEST_BYTES) };
  for (let i = 0; i < BLOCK_BYTES; i += 1) {
    pads.inner[i] = (block[i] ?? 0) ^ 0x36;
    pads.outer[i] = (block[i] ?? 0) ^ 0x5c;
  }
  padded.set(key, pads);
  return pads;
};

/** HMAC-SHA256 of `text` under `key`, hex (identical to createHmac('sha256', key.key)). */
export const hmacHex = (key: AuditKey, text: string): string => {
  const pads = padsOf(key);
  // UTF-8 takes at most 3 bytes per UTF-16 code unit: grow the buffer before a text could be cut short.
  if (BLOCK_BYTES + text.length * 3 > pads.inner.length) {
    const inner = Buffer.alloc(BLOCK_BYTES + text.length * 3);
    pads.inner.copy(inner, 0, 0, BLOCK_BYTES);
    pads.inner = inner;
  }
  const length = pads.inner.write(text, BLOCK_BYTES, 'utf8');
  // The inner digest travels as a 'binary' (latin1) string, one byte a character: a Buffer from `hash` cost 0.7 µs more.
  pads.outer.write(hash('sha256', pads.inner.subarray(0, BLOCK_BYTES + length), 'binary'), BLOCK_BYTES, 'binary');
  return hash('sha256', pads.outer, 'hex');
};
