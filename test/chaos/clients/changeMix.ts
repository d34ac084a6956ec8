import { GOVERNANCE_ACTIONS, type GoLiveChangePayload, type GovernanceAction } from '../../../packages/contract/src/index.js';
import type { Random } from '../random.js';

/** What the clients ask for: the five changes, and a verification (HTTP only). */
export const CHANGE_KINDS = {
  engage: 'engage',
  disable: 'disable',
  release: 'release',
  enable: 'enable',
  metadata: 'metadata',
  verify: 'verify',
} as const;
export type ChangeKind = (typeof CHANGE_KINDS)[keyof typeof CHANGE_KINDS];

/** Engages and disables: applied in the request by the api (200), queued only while PostgreSQL is unreachable. */
export const isSafetyKind = (kind: ChangeKind): boolean => kind === CHANGE_KINDS.engage || kind === CHANGE_KINDS.disable;

/**
 * The mix, in percent. Verifications are rare: each one re-verifies the whole audit chain (the product's default for a
 * requested verification), which grows through the run.
 */
const WEIGHTS: readonly (readonly [ChangeKind, number])[] = [
  [CHANGE_KINDS.engage, 15],
  [CHANGE_KINDS.disable, 10],
  [CHANGE_KINDS.release, 25],
  [CHANGE_KINDS.enable, 15],
  [CHANGE_KINDS.metadata, 34],
  [CHANGE_KINDS.verify, 1],
];

/** A kind from the mix; `verify: false` leaves verifications out (producers that only send changes). */
export const pickChangeKind = (random: Random, options: { verify: boolean }): ChangeKind => {
  const weights = options.verify ? WEIGHTS : WEIGHTS.filter(([kind]) => kind !== CHANGE_KINDS.verify);
  const total = weights.reduce((sum, [, weight]) => sum + weight, 0);
  let roll = random.next() * total;
  for (const [kind, weight] of weights) {
    roll -= weight;
    if (roll < 0) return kind;
  }
  return CHANGE_KINDS.metadata;
};

/** Metadata changes keep `backend_complete` mostly true, so that enables can pass their preconditions at times. */
const metadataOf = (random: Random, label: string) =>
  random.next() < 0.5 ? { backend_complete: random.next() < 0.8, notes: `chaos ${label}` } : { version: `1.0.${Math.floor(random.next() * 1_000)}` };

/** The HTTP request of a change: route and body (the api takes the actor from the token). */
export const httpRequestFor = (kind: ChangeKind, reason: string, random: Random): { path: string; body: Record<string, unknown> } => {
  switch (kind) {
    case CHANGE_KINDS.engage:
      return { path: '/api/governance/kill-switch', body: { engaged: true, reason } };
    case CHANGE_KINDS.release:
      return { path: '/api/governance/kill-switch', body: { engaged: false, reason } };
    case CHANGE_KINDS.enable:
      return { path: '/api/governance/go-live', body: { enabled: true, reason } };
    case CHANGE_KINDS.disable:
      return { path: '/api/governance/go-live', body: { enabled: false, reason } };
    case CHANGE_KINDS.metadata:
      return { path: '/api/governance/system-metadata', body: { ...metadataOf(random, reason), reason } };
    case CHANGE_KINDS.verify:
      // A verification has no reason field; its request id is not ours to choose, so the job id identifies it.
      return { path: '/api/governance/verify', body: {} };
    default: {
      const exhaustive: never = kind;
      throw new Error(`unknown change kind ${String(exhaustive)}`);
    }
  }
};

const ACTIONS: Record<Exclude<ChangeKind, 'verify'>, GovernanceAction> = {
  engage: GOVERNANCE_ACTIONS.killSwitchEngage,
  disable: GOVERNANCE_ACTIONS.goLiveDisable,
  release: GOVERNANCE_ACTIONS.killSwitchRelease,
  enable: GOVERNANCE_ACTIONS.goLiveEnable,
  metadata: GOVERNANCE_ACTIONS.metadataUpdate,
};

/** The job payload of a change, as a producer that adds jobs straight to the queues builds it. */
export const jobPayloadFor = (kind: Exclude<ChangeKind, 'verify'>, actor: string, reason: string, random: Random): GoLiveChangePayload => {
  const action = ACTIONS[kind];
  if (action === GOVERNANCE_ACTIONS.metadataUpdate) return { action, actor, reason, metadata: metadataOf(random, reason) };
  return { action, actor, reason };
};
