import { describe, expect, it } from 'vitest';
import { GO_LIVE_PRECONDITIONS, GOVERNANCE_ACTIONS, isSafetyAction, type StateSnapshot } from '@valhalla/contract';
import { NO_WATERMARKS, decideChange, isLive, isSuperseded, replayAudit, requiresApproval, unmetGoLivePreconditions } from './rules.js';

const initial: StateSnapshot = {
  go_live_enabled: false,
  kill_switch_engaged: true,
  live: false,
  version: '1.0.0',
  backend_complete: false,
  notes: null,
};

describe('isLive', () => {
  it.each([
    [false, false, false],
    [false, true, false],
    [true, true, false],
    [true, false, true],
  ])('enabled=%s engaged=%s is live=%s', (go_live_enabled, kill_switch_engaged, expected) => {
    expect(isLive({ go_live_enabled, kill_switch_engaged })).toBe(expected);
  });
});

describe('go-live enable preconditions', () => {
  const combos = [false, true].flatMap((killSwitchEngaged) =>
    [false, true].flatMap((backendComplete) => [false, true].map((verificationPassed) => ({ killSwitchEngaged, backendComplete, verificationPassed }))),
  );

  it.each(combos)('kill switch engaged=$killSwitchEngaged, backend complete=$backendComplete, verification passed=$verificationPassed', (facts) => {
    const expectedUnmet = [
      ...(facts.killSwitchEngaged ? [GO_LIVE_PRECONDITIONS.killSwitchReleased] : []),
      ...(facts.backendComplete ? [] : [GO_LIVE_PRECONDITIONS.backendComplete]),
      ...(facts.verificationPassed ? [] : [GO_LIVE_PRECONDITIONS.verificationPassed]),
    ];
    expect(unmetGoLivePreconditions(facts)).toEqual(expectedUnmet);

    const before = { ...initial, kill_switch_engaged: facts.killSwitchEngaged, backend_complete: facts.backendComplete, live: false };
    const decision = decideChange({ action: GOVERNANCE_ACTIONS.goLiveEnable, before, verificationPassed: facts.verificationPassed });
    if (expectedUnmet.length === 0) {
      expect(decision.outcome).toBe('applied');
      expect(decision.after).toMatchObject({ go_live_enabled: true, live: true });
    } else {
      expect(decision.outcome).toBe('rejected');
      expect(decision.unmet).toEqual(expectedUnmet);
      expect(decision.after).toEqual(before);
    }
  });
});

describe('decideChange', () => {
  it('engages the kill switch whatever the other state, and live turns false', () => {
    const live = { ...initial, go_live_enabled: true, kill_switch_engaged: false, live: true, backend_complete: true };
    const decision = decideChange({ action: GOVERNANCE_ACTIONS.killSwitchEngage, before: live, verificationPassed: false });
    expect(decision).toMatchObject({ outcome: 'applied', after: { kill_switch_engaged: true, live: false, go_live_enabled: true } });
  });

  it('disables go-live without preconditions', () => {
    const enabled = { ...initial, go_live_enabled: true };
    expect(decideChange({ action: GOVERNANCE_ACTIONS.goLiveDisable, before: enabled, verificationPassed: false })).toMatchObject({
      outcome: 'applied',
      after: { go_live_enabled: false },
    });
  });

  it('releases the kill switch without preconditions', () => {
    expect(decideChange({ action: GOVERNANCE_ACTIONS.killSwitchRelease, before: initial, verificationPassed: false })).toMatchObject({
      outcome: 'applied',
      after: { kill_switch_engaged: false, live: false },
    });
  });

  it.each([
    [GOVERNANCE_ACTIONS.killSwitchEngage, initial],
    [GOVERNANCE_ACTIONS.goLiveDisable, initial],
    [GOVERNANCE_ACTIONS.killSwitchRelease, { ...initial, kill_switch_engaged: false }],
    [GOVERNANCE_ACTIONS.goLiveEnable, { ...initial, go_live_enabled: true }],
  ] as const)('%s on a state already there is unchanged', (action, before) => {
    const decision = decideChange({ action, before, verificationPassed: false });
    expect(decision).toEqual({ outcome: 'unchanged', unmet: [], after: before, watermarks: NO_WATERMARKS });
  });

  it('updates only the metadata fields given', () => {
    const decision = decideChange({
      action: GOVERNANCE_ACTIONS.metadataUpdate,
      before: { ...initial, notes: 'keep me' },
      metadata: { backend_complete: true },
      verificationPassed: false,
    });
    expect(decision).toMatchObject({ outcome: 'applied', after: { backend_complete: true, version: '1.0.0', notes: 'keep me' } });
  });

  it('a metadata update to the same values is unchanged', () => {
    const decision = decideChange({
      action: GOVERNANCE_ACTIONS.metadataUpdate,
      before: initial,
      metadata: { version: '1.0.0', backend_complete: false },
      verificationPassed: false,
    });
    expect(decision.outcome).toBe('unchanged');
  });
});

describe('isSafetyAction', () => {
  it('is true exactly for kill switch engage and go-live disable', () => {
    expect(Object.values(GOVERNANCE_ACTIONS).filter(isSafetyAction)).toEqual([
      GOVERNANCE_ACTIONS.goLiveDisable,
      GOVERNANCE_ACTIONS.killSwitchEngage,
    ]);
  });
});

describe('replayAudit', () => {
  it('takes the after of the last applied entry and ignores unchanged and rejected ones', () => {
    const released = { ...initial, kill_switch_engaged: false };
    const state = replayAudit(initial, [
      { outcome: 'applied', after: released },
      { outcome: 'rejected', after: { ...released, notes: 'ignored' } },
      { outcome: 'unchanged', after: { ...released, notes: 'ignored too' } },
    ]);
    expect(state).toEqual(released);
  });
});

describe('four-eyes (requiresApproval)', () => {
  it.each([
    [GOVERNANCE_ACTIONS.goLiveEnable, 2, true],
    [GOVERNANCE_ACTIONS.killSwitchRelease, 3, true],
    [GOVERNANCE_ACTIONS.goLiveEnable, 1, false],
    [GOVERNANCE_ACTIONS.killSwitchRelease, 1, false],
    [GOVERNANCE_ACTIONS.killSwitchEngage, 2, false],
    [GOVERNANCE_ACTIONS.goLiveDisable, 2, false],
    [GOVERNANCE_ACTIONS.metadataUpdate, 2, false],
  ])('%s with APPROVALS_REQUIRED=%i needs approval: %s', (action, required, expected) => {
    expect(requiresApproval(action, required)).toBe(expected);
  });

  it('rejects a change without its approval, naming approval, and leaves the state', () => {
    const decision = decideChange({ action: GOVERNANCE_ACTIONS.killSwitchRelease, before: initial, verificationPassed: true, approvalMissing: true });
    expect(decision).toEqual({ outcome: 'rejected', unmet: [GO_LIVE_PRECONDITIONS.approval], after: initial, watermarks: NO_WATERMARKS });
  });

  it('a change to the state it is already in stays unchanged, approval or not', () => {
    const engaged = decideChange({ action: GOVERNANCE_ACTIONS.killSwitchEngage, before: initial, verificationPassed: false, approvalMissing: true });
    expect(engaged.outcome).toBe('unchanged');
  });
});

describe('supersession', () => {
  const released = { ...initial, kill_switch_engaged: false };
  // An api-accepted engage numbered 20 at 1,000 ms; a disable from another producer's queue at 2,000 ms.
  const marks = { ...NO_WATERMARKS, engageSeq: 20, engageMs: 1_000, disableDirectMs: 2_000, disableMs: 2_000 };

  it.each([
    ['kill_switch.release', { seq: 19, ms: 5_000 }, true],
    ['kill_switch.release', { seq: 21, ms: 500 }, false],
    ['kill_switch.release', { ms: 999 }, true],
    ['kill_switch.release', { ms: 1_000 }, false],
    ['go_live.enable', { seq: 1, ms: 1_999 }, true],
    ['go_live.enable', { seq: 1, ms: 2_000 }, false],
    ['go_live.enable', { ms: 1_999 }, true],
    ['kill_switch.engage', { seq: 0, ms: 0 }, false],
    ['metadata.update', { ms: 0 }, false],
  ] as const)('%s at %o is superseded: %s', (action, order, superseded) => {
    expect(isSuperseded({ action, order, watermarks: marks })).toBe(superseded);
  });

  it('compares acceptance numbers between changes the api accepted, whatever their times', () => {
    // Two api instances whose clocks differ: the release was accepted first (lower number) with a later time.
    const engaged = { ...NO_WATERMARKS, engageSeq: 7, engageMs: 1_000 };
    expect(isSuperseded({ action: GOVERNANCE_ACTIONS.killSwitchRelease, order: { seq: 6, ms: 9_000 }, watermarks: engaged })).toBe(true);
    expect(isSuperseded({ action: GOVERNANCE_ACTIONS.killSwitchRelease, order: { seq: 8, ms: 10 }, watermarks: engaged })).toBe(false);
  });

  it('rejects an older release before looking at the state, and keeps the watermarks', () => {
    const decision = decideChange({ action: GOVERNANCE_ACTIONS.killSwitchRelease, before: initial, verificationPassed: true, order: { seq: 5, ms: 5 }, watermarks: marks });
    expect(decision).toEqual({ outcome: 'rejected', unmet: ['not_superseded'], after: initial, watermarks: marks });
  });

  it('is never applied without an order or a watermark', () => {
    expect(isSuperseded({ action: GOVERNANCE_ACTIONS.killSwitchRelease, order: undefined, watermarks: marks })).toBe(false);
    expect(isSuperseded({ action: GOVERNANCE_ACTIONS.killSwitchRelease, order: { seq: 1, ms: 1 }, watermarks: NO_WATERMARKS })).toBe(false);
  });

  it('raises the watermarks of an applied or unchanged engage, never lowers them', () => {
    const engage = (state: typeof initial, order: { seq?: number; ms: number }) =>
      decideChange({ action: GOVERNANCE_ACTIONS.killSwitchEngage, before: state, verificationPassed: false, order, watermarks: marks });
    expect(engage(released, { seq: 30, ms: 3_000 })).toMatchObject({ outcome: 'applied', watermarks: { engageSeq: 30, engageMs: 3_000, engageDirectMs: null } });
    expect(engage(initial, { ms: 3_000 })).toMatchObject({ outcome: 'unchanged', watermarks: { engageSeq: 20, engageMs: 3_000, engageDirectMs: 3_000 } });
    expect(engage(released, { seq: 10, ms: 500 })).toMatchObject({ outcome: 'applied', watermarks: marks });
  });
});
