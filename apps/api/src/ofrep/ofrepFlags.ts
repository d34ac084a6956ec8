import type { LiveState } from '@valhalla/core';
import type { LiveStateBody } from '@valhalla/contract';

/**
 * The flags OFREP serves: booleans read from the live state, each with the variants `on` / `off`. The evaluation
 * context is never used (no targeting): every caller gets the same value at the same moment.
 */
const OFREP_FLAGS = {
  'valhalla-live': (body: LiveStateBody) => body.live,
  'valhalla-kill-switch-engaged': (body: LiveStateBody) => body.kill_switch_engaged,
  'valhalla-go-live-enabled': (body: LiveStateBody) => body.go_live_enabled,
  'valhalla-backend-complete': (body: LiveStateBody) => body.backend_complete,
} as const satisfies Record<string, (body: LiveStateBody) => boolean>;

export type OfrepFlagKey = keyof typeof OFREP_FLAGS;
export const OFREP_FLAG_KEYS = Object.keys(OFREP_FLAGS) as OfrepFlagKey[];

export const isOfrepFlagKey = (key: string): key is OfrepFlagKey => Object.hasOwn(OFREP_FLAGS, key);

/** Who an answer is for: `full` (operators, readers) or `app` (app tokens: no `changed_by`, no `reason`). */
export type OfrepAudience = 'full' | 'app';

/**
 * The metadata every evaluation carries: the state's `version` and `etag`, `updated_at`, and for operators and
 * readers `changed_by` and `reason`. OFREP metadata values are strings, numbers or booleans, never null, so a field
 * that is null (or hidden from an app token) is left out.
 */
const metadataOf = (state: LiveState, audience: OfrepAudience): Record<string, string | number> => {
  const { body } = state;
  const metadata: Record<string, string | number> = { version: body.version, etag: state.etag };
  if (body.updated_at !== null) metadata.updated_at = body.updated_at;
  if (audience === 'full') {
    if (body.changed_by !== null) metadata.changed_by = body.changed_by;
    if (body.reason !== null) metadata.reason = body.reason;
  }
  return metadata;
};

/** One evaluation in OFREP's success shape. `STATIC`: the value does not depend on the context. */
const evaluationOf = (state: LiveState, audience: OfrepAudience, key: OfrepFlagKey) => {
  const value = OFREP_FLAGS[key](state.body);
  return { key, value, reason: 'STATIC', variant: value ? 'on' : 'off', metadata: metadataOf(state, audience) };
};

/** Every answer for one state and audience, rendered to JSON once: the single evaluations by key, and the bulk body. */
export type RenderedEvaluations = { readonly single: ReadonlyMap<string, string>; readonly bulk: string };

const rendered = new WeakMap<LiveState, Partial<Record<OfrepAudience, RenderedEvaluations>>>();

/**
 * The evaluations of a state for an audience, rendered on first use and kept as long as the state object lives (the
 * listener replaces it on every change), so a request serialises nothing.
 */
export const renderedEvaluations = (state: LiveState, audience: OfrepAudience): RenderedEvaluations => {
  let byAudience = rendered.get(state);
  if (byAudience === undefined) {
    byAudience = {};
    rendered.set(state, byAudience);
  }
  const existing = byAudience[audience];
  if (existing !== undefined) return existing;
  const evaluations = OFREP_FLAG_KEYS.map((key) => evaluationOf(state, audience, key));
  const made: RenderedEvaluations = {
    single: new Map(evaluations.map((evaluation) => [evaluation.key, JSON.stringify(evaluation)])),
    bulk: JSON.stringify({ flags: evaluations, metadata: { version: state.body.version, etag: state.etag } }),
  };
  byAudience[audience] = made;
  return made;
};
