import { JOB_NAMES } from '@valhalla/contract';
import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../errors/index.js';
import { parseJobPayload } from './parseJobPayload.js';

const invalid = (name: Parameters<typeof parseJobPayload>[0], data: unknown): InvalidPayloadError => {
  try {
    parseJobPayload(name, data);
  } catch (error) {
    if (error instanceof InvalidPayloadError) return error;
    throw error;
  }
  throw new Error('expected INVALID_PAYLOAD');
};

describe('job payloads', () => {
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

});
