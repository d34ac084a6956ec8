import {
  CHANGE_OUTCOMES,
  GO_LIVE_PRECONDITIONS,
  GOVERNANCE_ACTIONS,
  SUPERSESSION_CONDITION,
  type ChangeOutcome,
  type GoLivePrecondition,
  type GovernanceAction,
  type MetadataChange,
  type StateSnapshot,
} from '@valhalla/contract';

/** The state rules of the contract as pure functions: no I/O, so every combination is unit-tested. */

export const isLive = (state: { go_live_enabled: boolean; kill_switch_engaged: boolean }): boolean =>
  state.go_live_enabled && !state.kill_switch_engaged;

/**
 * Four-eyes: with more than one approval required, an enable or a release runs only as the job of an approved change
 * request. Engage and disable never wait for anyone.
 */
export const requiresApproval = (action: GovernanceAction, approvalsRequired: number): boolean =>
  approvalsRequired > 1 && (action === GOVERNANCE_ACTIONS.goLiveEnable || action === GOVERNANCE_ACTIONS.killSwitchRelease);

export type GoLiveFacts = {
  killSwitchEngaged: boolean;
  backendComplete: boolean;
  /** Whether the latest verification run for the current migration head passed; false when there is none. */
  verificationPassed: boolean;
};

/** The go-live enable preconditions that do not hold, in a fixed order. Empty means enable is allowed. */
export const unmetGoLivePreconditions = (facts: GoLiveFacts): GoLivePrecondition[] => {
  const unmet: GoLivePrecondition[] = [];
  if (facts.killSwitchEngaged) unmet.push(GO_LIVE_PRECONDITIONS.killSwitchReleased);
  if (!facts.backendComplete) unmet.push(GO_LIVE_PRECONDITIONS.backendComplete);
  if (!facts.verificationPassed) unmet.push(GO_LIVE_PRECONDITIONS.verificationPassed);
  return unmet;
};

/**
 * Where a change stands in the order supersession compares. Changes the api accepted (and four-eyes change requests,
 * when they were made) carry an acceptance number from one PostgreSQL sequence: the one order for everything the api
 * accepts, whatever the api instance and its clock. A job added straight to a queue by another producer has no number:
 * it is ordered by its creation time, its job timestamp clamped to the database's clock when it is decided (a
 * producer clock that runs ahead cannot place it in the future).
 */
export type ChangeOrder = {
  /** The acceptance number; undefined for a job straight from a queue. */
  seq?: number | undefined;
  /** The creation time on the database's clock (ms since the epoch). */
  ms: number;
};

/**
 * Supersession watermarks, for the latest kill-switch engage and the latest go-live disable that was applied or found
 * the state already safe (null: none yet). `*Seq`: the highest acceptance number of one. `*DirectMs`: the highest
 * creation time of one that came straight from a queue. `*Ms`: the highest creation time of any.
 */
export type SafetyWatermarks = {
  engageSeq: number | null;
  disableSeq: number | null;
  engageDirectMs: number | null;
  disableDirectMs: number | null;
  engageMs: number | null;
  disableMs: number | null;
};
export const NO_WATERMARKS: SafetyWatermarks = Object.freeze({
  engageSeq: null,
  disableSeq: null,
  engageDirectMs: null,
  disableDirectMs: null,
  engageMs: null,
  disableMs: null,
});

export type ChangeDecision = {
  outcome: ChangeOutcome;
  /** The conditions a rejection did not meet (go-live preconditions, supersession; the applier adds expiry). */
  unmet: string[];
  after: StateSnapshot;
  /** The watermarks after this change. */
  watermarks: SafetyWatermarks;
};

export type DecisionInput = {
  action: GovernanceAction;
  before: StateSnapshot;
  metadata?: MetadataChange | undefined;
  verificationPassed: boolean;
  /** Where the change stands in the order (see ChangeOrder); undefined when unknown (never superseded then). */
  order?: ChangeOrder | undefined;
  /** The watermarks before this change (none when omitted). */
  watermarks?: SafetyWatermarks | undefined;
  /** The change needs an approved change request and is not one (see requiresApproval). */
  approvalMissing?: boolean | undefined;
};

/** The marks of the safety action a release (engage) or an enable (disable) must not undo; undefined for the others. */
const marksAgainst = (action: GovernanceAction, marks: SafetyWatermarks) => {
  if (action === GOVERNANCE_ACTIONS.killSwitchRelease) return { seq: marks.engageSeq, directMs: marks.engageDirectMs, anyMs: marks.engageMs };
  if (action === GOVERNANCE_ACTIONS.goLiveEnable) return { seq: marks.disableSeq, directMs: marks.disableDirectMs, anyMs: marks.disableMs };
  return undefined;
};

const isBelow = (value: number, mark: number | null): boolean => mark !== null && value < mark;

/**
 * True for a release created before the latest engage, or an enable created before the latest disable: the one it
 * would undo overtook it. Two changes the api accepted compare acceptance numbers (a number taken earlier is
 * earlier, exactly, whatever the clocks); against a job straight from a queue, creation times on the database's clock.
 */
export const isSuperseded = (input: Pick<DecisionInput, 'action' | 'order' | 'watermarks'>): boolean => {
  const marks = marksAgainst(input.action, input.watermarks ?? NO_WATERMARKS);
  const { order } = input;
  if (marks === undefined || order === undefined) return false;
  if (order.seq !== undefined) return isBelow(order.seq, marks.seq) || isBelow(order.ms, marks.directMs);
  return isBelow(order.ms, marks.anyMs);
};

/** A watermark raised to `value`: never moves back (an old engage applied late). */
const raise = (current: number | null, value: number): number => (current === null ? value : Math.max(current, value));

const raiseWatermarks = (marks: SafetyWatermarks, action: GovernanceAction, order: ChangeOrder | undefined): SafetyWatermarks => {
  if (order === undefined) return marks;
  if (action === GOVERNANCE_ACTIONS.killSwitchEngage) {
    return {
      ...marks,
      engageMs: raise(marks.engageMs, order.ms),
      ...(order.seq === undefined ? { engageDirectMs: raise(marks.engageDirectMs, order.ms) } : { engageSeq: raise(marks.engageSeq, order.seq) }),
    };
  }
  if (action === GOVERNANCE_ACTIONS.goLiveDisable) {
    return {
      ...marks,
      disableMs: raise(marks.disableMs, order.ms),
      ...(order.seq === undefined ? { disableDirectMs: raise(marks.disableDirectMs, order.ms) } : { disableSeq: raise(marks.disableSeq, order.seq) }),
    };
  }
  return marks;
};

const withLive = (snapshot: Omit<StateSnapshot, 'live'>): StateSnapshot => ({ ...snapshot, live: isLive(snapshot) });

const sameSnapshot = (a: StateSnapshot, b: StateSnapshot): boolean =>
  a.go_live_enabled === b.go_live_enabled &&
  a.kill_switch_engaged === b.kill_switch_engaged &&
  a.version === b.version &&
  a.backend_complete === b.backend_complete &&
  a.notes === b.notes;

/**
 * Decides what a change does to the current state. A release created before the latest engage, or an enable created
 * before the latest disable, is rejected first (superseded: the safety lane lets the engage overtake it, and it must
 * not undo it). A
 * change to the state it is already in is `unchanged` (and its preconditions are not evaluated: nothing would
 * change). Only go-live enable has preconditions. An engage or disable that is applied or unchanged raises its
 * watermarks to its place in the order: "unchanged" still records the operator's intent to be safe as of then.
 */
export const decideChange = (input: DecisionInput): ChangeDecision => {
  const { before } = input;
  const watermarks = input.watermarks ?? NO_WATERMARKS;
  if (isSuperseded(input)) {
    return { outcome: CHANGE_OUTCOMES.rejected, unmet: [SUPERSESSION_CONDITION], after: before, watermarks };
  }
  const decided = decideOnState(input);
  // Safety actions are never rejected (no preconditions), so each one raises its watermark.
  return { ...decided, watermarks: raiseWatermarks(watermarks, input.action, input.order) };
};

const decideOnState = (input: DecisionInput): Omit<ChangeDecision, 'watermarks'> => {
  const { before } = input;
  let target: Omit<StateSnapshot, 'live'>;
  switch (input.action) {
    case GOVERNANCE_ACTIONS.goLiveEnable:
      target = { ...before, go_live_enabled: true };
      break;
    case GOVERNANCE_ACTIONS.goLiveDisable:
      target = { ...before, go_live_enabled: false };
      break;
    case GOVERNANCE_ACTIONS.killSwitchEngage:
      target = { ...before, kill_switch_engaged: true };
      break;
    case GOVERNANCE_ACTIONS.killSwitchRelease:
      target = { ...before, kill_switch_engaged: false };
      break;
    case GOVERNANCE_ACTIONS.metadataUpdate:
      target = {
        ...before,
        version: input.metadata?.version ?? before.version,
        backend_complete: input.metadata?.backend_complete ?? before.backend_complete,
        notes: input.metadata?.notes ?? before.notes,
      };
      break;
    default: {
      const exhaustive: never = input.action;
      throw new Error(`unhandled governance action ${String(exhaustive)}`);
    }
  }
  const after = withLive(target);
  if (sameSnapshot(before, after)) return { outcome: CHANGE_OUTCOMES.unchanged, unmet: [], after: before };
  if (input.approvalMissing === true) return { outcome: CHANGE_OUTCOMES.rejected, unmet: [GO_LIVE_PRECONDITIONS.approval], after: before };
  if (input.action === GOVERNANCE_ACTIONS.goLiveEnable) {
    const unmet = unmetGoLivePreconditions({
      killSwitchEngaged: before.kill_switch_engaged,
      backendComplete: before.backend_complete,
      verificationPassed: input.verificationPassed,
    });
    if (unmet.length > 0) return { outcome: CHANGE_OUTCOMES.rejected, unmet, after: before };
  }
  return { outcome: CHANGE_OUTCOMES.applied, unmet: [], after };
};

/** Replays applied audit entries over an initial snapshot: the state the log says we should be in. */
export const replayAudit = (
  initial: StateSnapshot,
  entries: readonly { outcome: ChangeOutcome; after: StateSnapshot }[],
): StateSnapshot =>
  entries.reduce((state, entry) => (entry.outcome === CHANGE_OUTCOMES.applied ? entry.after : state), initial);
