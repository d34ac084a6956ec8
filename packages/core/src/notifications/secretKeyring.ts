import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** One key of NOTIFICATION_SECRET_KEYS: its id (stored with every secret it seals) and 32 bytes of AES-256 key. */
export type NotificationKey = { readonly id: string; readonly key: Buffer };

/** The keys the application holds: the first seals new secrets, every one opens. */
export type NotificationKeyring = { readonly current: NotificationKey; readonly byId: ReadonlyMap<string, NotificationKey> };

const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Standard base64 or base64url of 32 bytes: 43 characters, with or without the one padding character. */
const BASE64_32 = /^[A-Za-z0-9+/_-]{43}=?$/;
const SEALED_VERSION = 'v1';

/**
 * The key used when NOTIFICATION_SECRET_KEYS is unset outside production (dev, tests). It is public: secrets sealed
 * with it are readable by anyone who has this repository, so production refuses it.
 */
export const DEVELOPMENT_NOTIFICATION_KEY: NotificationKey = Object.freeze({
  id: 'dev',
  key: createHash('sha256').update('valhalla-development-notification-key-not-a-secret').digest(),
});

export const createNotificationKeyring = (keys: readonly NotificationKey[]): NotificationKeyring => {
  const [current] = keys;
  if (current === undefined) throw new Error('a notification keyring needs at least one key');
  return Object.freeze({ current, byId: new Map(keys.map((key) => [key.id, key])) });
};

/**
 * Parses `keyid:base64,keyid:base64` (each key 32 bytes, e.g. `openssl rand -base64 32`). Returns the keys or the
 * problems (never throws, and never repeats a key in a message), so the config reports them under the variable.
 */
export const parseNotificationKeys = (raw: string): { keys: NotificationKey[]; problems: string[] } => {
  const keys: NotificationKey[] = [];
  const problems: string[] = [];
  const entries = raw.split(',').map((entry) => entry.trim()).filter((entry) => entry.length > 0);
  entries.forEach((entry, index) => {
    const separator = entry.indexOf(':');
    const id = separator <= 0 ? '' : entry.slice(0, separator);
    const encoded = entry.slice(separator + 1);
    if (!KEY_ID_PATTERN.test(id)) {
      problems.push(`entry ${index + 1} is not keyid:base64 (key id: 1-64 letters, digits, _ . -)`);
    } else if (!BASE64_32.test(encoded) || Buffer.from(encoded, 'base64').length !== KEY_BYTES) {
      problems.push(`entry ${index + 1} (key id ${id}): the key must be the base64 of exactly 32 bytes (openssl rand -base64 32)`);
    } else if (keys.some((other) => other.id === id)) {
      problems.push(`entry ${index + 1}: key id ${id} is used by another entry`);
    } else {
      keys.push({ id, key: Buffer.from(encoded, 'base64') });
    }
  });
  return { keys, problems };
};

/** A sealed secret could not be opened: its key id is not in the keyring, or it was altered or moved to another row. */
export class SecretUnavailableError extends Error {
  override readonly name = 'SecretUnavailableError';
}

/**
 * Encrypts `plaintext` with the current key (AES-256-GCM, random 96-bit nonce). `context` (e.g. `<subscription
 * id>:secret`) is authenticated with it: a sealed value copied into another row, or from target to secret, does not
 * open there. Text form `v1:<key id>:<nonce>:<ciphertext and tag>` (base64url).
 */
export const sealSecret = (keyring: NotificationKeyring, plaintext: string, context: string): string => {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyring.current.key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return [SEALED_VERSION, keyring.current.id, iv.toString('base64url'), sealed.toString('base64url')].join(':');
};

/** The key id a sealed value names, or undefined when it is not in the sealed form. */
export const sealedKeyId = (sealed: string): string | undefined => {
  const parts = sealed.split(':');
  return parts.length === 4 && parts[0] === SEALED_VERSION ? parts[1] : undefined;
};

/**
 * Decrypts a value sealed by sealSecret under the same context.
 * @throws SecretUnavailableError naming the key id (never the value) when it cannot be opened.
 */
export const openSecret = (keyring: NotificationKeyring, sealed: string, context: string): string => {
  const [version, keyId, ivText, bodyText] = sealed.split(':');
  if (version !== SEALED_VERSION || keyId === undefined || ivText === undefined || bodyText === undefined) {
    throw new SecretUnavailableError('the stored secret is not in the sealed form');
  }
  const key = keyring.byId.get(keyId);
  if (key === undefined) throw new SecretUnavailableError(`the stored secret is sealed with key ${keyId}, which NOTIFICATION_SECRET_KEYS does not hold`);
  const body = Buffer.from(bodyText, 'base64url');
  if (body.length < TAG_BYTES) throw new SecretUnavailableError('the stored secret is truncated');
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(ivText, 'base64url'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch (error) {
    throw new SecretUnavailableError(`the stored secret does not open with key ${keyId} (altered, or sealed for another row)`, { cause: error });
  }
};
