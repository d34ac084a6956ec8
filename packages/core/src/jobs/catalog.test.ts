import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../errors/index.js';
import { JOB_CATALOG, JOB_NAMES, PRIORITIES, QUEUES, parseJobPayload, startupVerificationJobId } from './catalog.js';

const invalid = (name: Parameters<typeof parseJobPayload>[0], data: unknown): InvalidPayloadError => {
  try {
    parseJobPayload(name, data);
  } catch (error) {
    if (error instanceof InvalidPayloadError) return error;
    throw error;
  }
  throw new Error('expected INVALID_PAYLOAD');
};

describe('job catalog', () => {
  it('names queues and jobs exactly as the contract', () => {
    expect(QUEUES).toEqual({ governance: 'governance', verification: 'verification' });
    expect(JOB_CATALOG[JOB_NAMES.goLiveChange].queue).toBe('governance');
    expect(JOB_CATALOG[JOB_NAMES.migrationVerify].queue).toBe('verification');
    expect(JOB_NAMES).toEqual({ goLiveChange: 'go-live-change', migrationVerify: 'migration-verify' });
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

  it('gives safety actions the first priority and every other change a priority too', () => {
    const options = JOB_CATALOG[JOB_NAMES.goLiveChange].options;
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
