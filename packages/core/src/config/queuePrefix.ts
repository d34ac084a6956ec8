import type { ErrorDetail } from '../errors/index.js';
import { DEFAULT_QUEUE_PREFIX } from './env/shared.js';

/** Letters, digits, `_ . : -`, and braces for a Redis Cluster hash tag. */
const PREFIX_PATTERN = /^[A-Za-z0-9_.:{}-]{1,100}$/;

/**
 * Whether every key under this prefix hashes to one Redis Cluster slot: Redis hashes only the part between the first
 * `{` and the next `}` when that part is not empty. BullMQ's scripts touch several keys of a queue at once, and a
 * Cluster runs a script only when all its keys live in one slot.
 */
export const isHashTaggedPrefix = (prefix: string): boolean => {
  const open = prefix.indexOf('{');
  if (open < 0) return false;
  const close = prefix.indexOf('}', open + 1);
  return close > open + 1;
};

/** A prefix's braces, if any, must form exactly one non-empty hash tag: `{valhalla}`, `prod:{valhalla}`. */
const braceProblem = (prefix: string): string | undefined => {
  const opens = prefix.split('{').length - 1;
  const closes = prefix.split('}').length - 1;
  if (opens === 0 && closes === 0) return undefined;
  if (opens !== 1 || closes !== 1 || !isHashTaggedPrefix(prefix)) {
    return 'braces must form one non-empty hash tag, such as {valhalla}';
  }
  return undefined;
};

/**
 * The queue key prefix from QUEUE_PREFIX, or its deprecated name BULLMQ_PREFIX; default `bull`. Never throws: each
 * problem names its variable (both when they disagree).
 */
export const resolveQueuePrefix = (raw: {
  QUEUE_PREFIX: string | undefined;
  BULLMQ_PREFIX: string | undefined;
}): { prefix: string; deprecations: string[]; problems: ErrorDetail[] } => {
  const problems: ErrorDetail[] = [];
  const deprecations: string[] = [];
  for (const field of ['QUEUE_PREFIX', 'BULLMQ_PREFIX'] as const) {
    const value = raw[field];
    if (value === undefined) continue;
    if (!PREFIX_PATTERN.test(value)) {
      problems.push({ field, message: 'must be 1-100 characters of letters, digits, _ . : - and one {hash tag}' });
      continue;
    }
    const braces = braceProblem(value);
    if (braces !== undefined) problems.push({ field, message: braces });
  }
  if (raw.QUEUE_PREFIX !== undefined && raw.BULLMQ_PREFIX !== undefined && raw.QUEUE_PREFIX !== raw.BULLMQ_PREFIX) {
    problems.push({
      field: 'QUEUE_PREFIX',
      message: `is ${raw.QUEUE_PREFIX} but BULLMQ_PREFIX (its deprecated name) is ${raw.BULLMQ_PREFIX}; set QUEUE_PREFIX only`,
    });
  }
  if (raw.QUEUE_PREFIX === undefined && raw.BULLMQ_PREFIX !== undefined) {
    deprecations.push('BULLMQ_PREFIX is deprecated: rename it QUEUE_PREFIX (same value, same keys)');
  }
  return { prefix: raw.QUEUE_PREFIX ?? raw.BULLMQ_PREFIX ?? DEFAULT_QUEUE_PREFIX, deprecations, problems };
};
