import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createNotificationKeyring, openSecret, SecretUnavailableError, sealedKeyId, sealSecret, type NotificationKey } from './secretKeyring.js';

const key = (id: string): NotificationKey => ({ id, key: randomBytes(32) });

describe('sealing notification secrets', () => {
  it('seals with the current key (random nonce each time) and opens with any key of the ring', () => {
    const [old, current] = [key('old'), key('new')];
    const before = createNotificationKeyring([old]);
    const after = createNotificationKeyring([current, old]);
    const sealed = sealSecret(before, 'whsec_abc', 'sub-1:secret');
    expect(sealed).toMatch(/^v1:old:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain('whsec');
    expect(sealSecret(before, 'whsec_abc', 'sub-1:secret')).not.toBe(sealed);
    expect(openSecret(after, sealed, 'sub-1:secret')).toBe('whsec_abc');
    expect(sealedKeyId(sealSecret(after, 'x', 'c'))).toBe('new');
  });

  it('refuses a value moved to another row or purpose, altered, or sealed with a key the ring lacks, naming only the key id', () => {
    const ring = createNotificationKeyring([key('k1')]);
    const sealed = sealSecret(ring, 'https://hooks.slack.com/services/T/B/secret', 'sub-1:target');
    expect(() => openSecret(ring, sealed, 'sub-2:target')).toThrow(SecretUnavailableError);
    expect(() => openSecret(ring, sealed, 'sub-1:secret')).toThrow(/does not open with key k1/);
    const parts = sealed.split(':');
    const body = Buffer.from(parts[3] as string, 'base64url');
    body[0] = (body[0] ?? 0) ^ 1;
    expect(() => openSecret(ring, [...parts.slice(0, 3), body.toString('base64url')].join(':'), 'sub-1:target')).toThrow(SecretUnavailableError);
    expect(() => openSecret(createNotificationKeyring([key('k9')]), sealed, 'sub-1:target')).toThrow(/sealed with key k1, which NOTIFICATION_SECRET_KEYS does not hold/);
    expect(() => openSecret(ring, 'plaintext', 'sub-1:target')).toThrow(/not in the sealed form/);
    try {
      openSecret(ring, sealed, 'sub-2:target');
    } catch (error) {
      expect(String(error)).not.toContain('hooks.slack.com');
    }
  });
});
