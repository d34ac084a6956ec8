import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../errors/index.js';
import {
  JOB_CATALOG,
  JOB_NAMES,
  PRIORITIES,
  QUEUES,
  changeIdentity,
  decodeJobFailure,
  encodeJobFailure,
  jobFailureOf,
  parseJobPayload,
  queueForJob,
  startupVerificationJobId,
  type GoLiveChangePayload,
  transientRetryDelayMs,
} from './index.js';

const invalid = (name: Parameters<typeof parseJobPayload>[0], data: unknown): InvalidPayloadError => {
  try {
    parseJobPayload(name, data);
  } catch (error) {
    if (error instanceof InvalidPayloadError) return error;
    throw error;
  }
  throw new Error('expected INVALID_PAYLOAD');
};

describe('job contract', () => {
  it('names queues and jobs exactly as the contract', () => {
    expect(QUEUES).toEqual({ governance: 'governance', governanceSafety: 'governance-safety', verification: 'verification' });
    expect(JOB_CATALOG[JOB_NAMES.goLiveChange].queue).toBe('governance');
    expect(JOB_CATALOG[JOB_NAMES.migrationVerify].queue).toBe('verification');
    expect(JOB_NAMES).toEqual({ goLiveChange: 'go-live-change', migrationVerify: 'migration-verify' });
  });

  it('sends engages and disables to the safety lane, every other change to governance', () => {
    const change = (action: GoLiveChangePayload['action']) => queueForJob(JOB_NAMES.goLiveChange, { action, actor: 'a', reason: 'r' } as GoLiveChangePayload);
    expect(change('kill_switch.engage')).toBe('governance-safety');
    expect(change('go_live.disable')).toBe('governance-safety');
    expect(change('kill_switch.release')).toBe('governance');
    expect(change('go_live.enable')).toBe('governance');
    expect(queueForJob(JOB_NAMES.migrationVerify, { actor: 'a' })).toBe('verification');
  });

  it('accepts every contract action', () => {
    for (const action of ['go_live.enable', 'go_live.disable', 'kill_switch.engage', 'kill_switch.release'] as const) {
      expect(parseJobPayload(JOB_NAMES.goLiveChange, { action, actor: 'ops', reason: 'r' })).toMatchObject({ action });
    }
    expect(
      parseJobPayload(JOB_NAMES.goLiveChange, { action: 'metadata.update', actor: 'ops', reason: 'r', metadata: { backend_complete: true } }),
    ).toMatchObject({ metadata: { backend_complete: true } });
    expect(parseJobPayload(JOB_NAMES.migrationVerify, { actor: 'ops' })).toEqual({ actor: 'ops' });
  });

  it.each([
    [{ action: 'go_live.explode', actor: 'ops', reason: 'r' }, 'action'],
    [{ action: 'go_live.enable', actor: 'ops' }, 'reason'],
    [{ action: 'go_live.enable', actor: 'ops', reason: '' }, 'reason'],
    [{ action: 'go_live.enable', actor: 'ops', reason: 'r'.repeat(501) }, 'reason'],
    [{ action: 'go_live.enable', reason: 'r' }, 'actor'],
    [{ action: 'go_live.enable', actor: 'ops', reason: 'r', extra: 1 }, '(root)'],
    [{ action: 'metadata.update', actor: 'ops', reason: 'r' }, 'metadata'],
    [{ action: 'metadata.update', actor: 'ops', reason: 'r', metadata: {} }, 'metadata'],
    [{ action: 'metadata.update', actor: 'ops', reason: 'r', metadata: { backend_complete: 'yes' } }, 'metadata.backend_complete'],
  ])('rejects %o naming %s', (data, field) => {
    const error = invalid(JOB_NAMES.goLiveChange, data);
    expect(error.code).toBe('INVALID_PAYLOAD');
    expect(error.details?.map((d) => d.field)).toContain(field);
  });

  it.each([
    ['NUL', 'a\u0000b'],
    ['a lone high surrogate', 'a\uD800b'],
    ['a lone low surrogate', 'a\uDC00'],
    ['a control character', 'a\u001Bb'],
    ['DEL', 'a\u007Fb'],
  ])('refuses %s in every text field, on every path', (_what, bad) => {
    const base = { action: 'kill_switch.engage', actor: 'ops', reason: 'r' };
    for (const [field, data] of [
      ['reason', { ...base, reason: bad }],
      ['actor', { ...base, actor: bad }],
      ['requestId', { ...base, requestId: bad }],
      ['metadata.notes', { ...base, action: 'metadata.update', metadata: { notes: bad } }],
      ['metadata.version', { ...base, action: 'metadata.update', metadata: { version: bad } }],
    ] as const) {
      expect(invalid(JOB_NAMES.goLiveChange, data).details?.map((d) => d.field)).toContain(field);
    }
    expect(invalid(JOB_NAMES.migrationVerify, { actor: 'ops', release: bad }).details?.map((d) => d.field)).toContain('release');
  });

  it('allows line breaks and tabs in free text, not in names', () => {
    expect(parseJobPayload(JOB_NAMES.goLiveChange, { action: 'kill_switch.engage', actor: 'ops', reason: 'a\n\tb' }).reason).toBe('a\n\tb');
    expect(invalid(JOB_NAMES.goLiveChange, { action: 'kill_switch.engage', actor: 'o\nps', reason: 'r' }).details?.[0]?.field).toBe('actor');
    expect(invalid(JOB_NAMES.goLiveChange, { action: 'kill_switch.engage', actor: 'ops', reason: '   ' }).details?.[0]?.field).toBe('reason');
  });

  it('refuses a trailing line break or a bidirectional control in a name instead of dropping it; trims spaces', () => {
    const metadata = (version: string) => ({ action: 'metadata.update', actor: 'ops', reason: 'r', metadata: { version } });
    for (const bad of ['2.0.0\n', '4.0.0\t', '\u202e5', 'v\u20661.0']) {
      expect(invalid(JOB_NAMES.goLiveChange, metadata(bad)).details?.map((d) => d.field), JSON.stringify(bad)).toContain('metadata.version');
    }
    const parsed = parseJobPayload(JOB_NAMES.goLiveChange, metadata(' 3.0.0 '));
    expect(parsed.action === 'metadata.update' && parsed.metadata.version).toBe('3.0.0');
  });

  it('encodes a failure record and decodes it back as data', () => {
    const failure = jobFailureOf('PRECONDITION_FAILED', 'unmet: backend_complete');
    expect(failure.final).toBe(true);
    expect(decodeJobFailure(encodeJobFailure(failure))).toEqual(failure);
    expect(jobFailureOf('INTERNAL_ERROR', 'x').final).toBe(false);
  });

  it.each([
    'job stalled more than allowable limit',
    'connect ECONNREFUSED 10.0.0.7:5432',
    '{"code":"NOT_A_CODE","message":"x","final":true}',
    '{"code":"EXPIRED","message":"x","final":true,"stack":"at x"}',
    '{not json',
  ])('never shows text that is not a record of ours: %s', (reason) => {
    const decoded = decodeJobFailure(reason);
    expect(decoded).toMatchObject({ code: 'JOB_INTERRUPTED', final: false });
    expect(decoded.message).not.toContain('10.0.0.7');
  });

  it('keys a counter id with its creation time and a producer id by itself', () => {
    expect(changeIdentity('123', 1700)).toBe('123@1700');
    expect(changeIdentity('idem-abc', 1700)).toBe('idem-abc');
    expect(changeIdentity('0a1', 1700)).toBe('0a1');
  });

  it('backs off exponentially with jitter, capped', () => {
    const schedule = { baseDelayMs: 100, maxDelayMs: 1000 };
    expect(transientRetryDelayMs(0, schedule, () => 0)).toBe(50);
    expect(transientRetryDelayMs(0, schedule, () => 1)).toBe(100);
    expect(transientRetryDelayMs(3, schedule, () => 1)).toBe(800);
    expect(transientRetryDelayMs(50, schedule, () => 1)).toBe(1000);
    expect(transientRetryDelayMs(50, schedule, () => 0)).toBe(500);
  });

  it('gives safety actions the first priority and every other change a priority too', () => {
    const options = JOB_CATALOG[JOB_NAMES.goLiveChange].options;
    expect(JOB_CATALOG[JOB_NAMES.goLiveChange].expires({ action: 'kill_switch.engage', actor: 'a', reason: 'r' })).toBe(false);
    expect(JOB_CATALOG[JOB_NAMES.goLiveChange].expires({ action: 'go_live.disable', actor: 'a', reason: 'r' })).toBe(false);
    expect(JOB_CATALOG[JOB_NAMES.goLiveChange].expires({ action: 'kill_switch.release', actor: 'a', reason: 'r' })).toBe(true);
    expect(options({ action: 'kill_switch.engage', actor: 'a', reason: 'r' }).priority).toBe(PRIORITIES.safety);
    expect(options({ action: 'go_live.disable', actor: 'a', reason: 'r' }).priority).toBe(PRIORITIES.safety);
    expect(options({ action: 'go_live.enable', actor: 'a', reason: 'r' }).priority).toBe(PRIORITIES.normal);
    expect(options({ action: 'kill_switch.release', actor: 'a', reason: 'r' }).priority).toBe(PRIORITIES.normal);
    expect(PRIORITIES.safety).toBeLessThan(PRIORITIES.normal);
  });

  it('derives one startup verification job id per release, safe for BullMQ', () => {
    expect(startupVerificationJobId('abc:123', '20260204_worker_runtime')).toBe(startupVerificationJobId('abc:123', '20260204_worker_runtime'));
    expect(startupVerificationJobId('abc:123', '20260204_worker_runtime')).not.toContain(':');
  });
});
