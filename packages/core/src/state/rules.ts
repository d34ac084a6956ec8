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
} from './model.js';

/** The state rules of the contract as pure functions: no I/O, so every combination is unit-tested. */

export const isLive = (state: { go_live_enabled: boolean; kill_switch_engaged: boolean }): boolean =>
  state.go_live_enabled && !state.kill_switch_engaged;

/** Actions that make the system safer: always allowed, and run ahead of queued changes. */
export const isSafetyAction = (action: GovernanceAction): boolean =>
  action === GOVERNANCE_ACTIONS.killSwitchEngage || action === GOVERNANCE_ACTIONS.goLiveDisable;

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
 * Supersession watermarks: the creation time (ms) of the latest kill-switch engage and of the latest go-live disable
 * that was applied or found the state already safe; null when none.
 */
export type SafetyWatermarks = { engageMs: number | null; disableMs: number | null };
export const NO_WATERMARKS: SafetyWatermarks = Object.freeze({ engageMs: null, disableMs: null });

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
  /** When the change was created (the job's timestamp, ms); undefined when unknown (never superseded then). */
  createdMs?: number | undefined;
  /** The watermarks before this change (none when omitted). */
  watermarks?: SafetyWatermarks | undefined;
  /** The change needs an approved change request and is not one (see requiresApproval). */
  approvalMissing?: boolean | undefined;
};

/**
 * True for a release created before the latest engage, or an enable created before the latest disable: the one it
 * would undo overtook it in the safety lane.
 */
export const isSuperseded = (input: Pick<DecisionInput, 'action' | 'createdMs' | 'watermarks'>): boolean => {
  const mark =
    input.action === GOVERNANCE_ACTIONS.killSwitchRelease
      ? input.watermarks?.engageMs
      : input.action === GOVERNANCE_ACTIONS.goLiveEnable
        ? input.watermarks?.disableMs
        : null;
  return input.createdMs !== undefined && mark !== undefined && mark !== null && input.createdMs < mark;
};

/** A watermark after a safety change created at `createdMs`: never moves back (an old engage applied late). */
const raise = (current: number | null, createdMs: number | undefined): number | null =>
  createdMs === undefined ? current : current === null ? createdMs : Math.max(current, createdMs);

const raiseWatermarks = (marks: SafetyWatermarks, action: GovernanceAction, createdMs: number | undefined): SafetyWatermarks => {
  if (action === GOVERNANCE_ACTIONS.killSwitchEngage) return { ...marks, engageMs: raise(marks.engageMs, createdMs) };
  if (action === GOVERNANCE_ACTIONS.goLiveDisable) return { ...marks, disableMs: raise(marks.disableMs, createdMs) };
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
 * watermark to its creation time: "unchanged" still records the operator's intent to be safe as of then.
 */
export const decideChange = (input: DecisionInput): ChangeDecision => {
  const { before } = input;
  const watermarks = input.watermarks ?? NO_WATERMARKS;
  if (isSuperseded(input)) {
    return { outcome: CHANGE_OUTCOMES.rejected, unmet: [SUPERSESSION_CONDITION], after: before, watermarks };
  }
  const decided = decideOnState(input);
  // Safety actions are never rejected (no preconditions), so each one raises its watermark.
  return { ...decided, watermarks: raiseWatermarks(watermarks, input.action, input.createdMs) };
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
