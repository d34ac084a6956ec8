import { describe, expect, it } from 'vitest';
import {
  JOB_CATALOG,
  JOB_NAMES,
  PRIORITIES,
  QUEUES,
  changeIdentity,
  decodeJobFailure,
  encodeJobFailure,
  jobFailureOf,
  queueForJob,
  startupVerificationJobId,
  type GoLiveChangePayload,
  transientRetryDelayMs,
} from './index.js';

describe('job catalog', () => {
  it('names queues and jobs exactly as the contract', () => {
    expect(QUEUES).toEqual({ governance: 'governance', governanceSafety: 'governance-safety', verification: 'verification' });
    expect(JOB_CATALOG[JOB_NAMES.migrationVerify].queue({ actor: 'a' })).toBe('verification');
    expect(JOB_NAMES).toEqual({ goLiveChange: 'go-live-change', migrationVerify: 'migration-verify' });
  });

  it('sends engages and disables to the safety lane, every other change to governance, by the catalog\'s lane rule', () => {
    const change = (action: GoLiveChangePayload['action']) => queueForJob(JOB_NAMES.goLiveChange, { action, actor: 'a', reason: 'r' } as GoLiveChangePayload);
    expect(change('kill_switch.engage')).toBe('governance-safety');
    expect(change('go_live.disable')).toBe('governance-safety');
    expect(change('kill_switch.release')).toBe('governance');
    expect(change('go_live.enable')).toBe('governance');
    expect(queueForJob(JOB_NAMES.migrationVerify, { actor: 'a' })).toBe('verification');
    const lane = JOB_CATALOG[JOB_NAMES.goLiveChange].queue;
    expect(lane({ action: 'kill_switch.engage', actor: 'a', reason: 'r' })).toBe('governance-safety');
    expect(lane({ action: 'kill_switch.release', actor: 'a', reason: 'r' })).toBe('governance');
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
