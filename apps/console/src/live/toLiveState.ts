import type { LiveState, RunbookStatus } from '../api/types.js';

/** The live-state view of a runbook status, for an api without GET /api/governance/live. */
export const toLiveState = (status: RunbookStatus): LiveState => ({
  live: status.live,
  go_live_enabled: status.go_live_state?.go_live_enabled ?? false,
  kill_switch_engaged: status.go_live_state?.kill_switch_engaged ?? true,
  backend_complete: status.system_metadata?.backend_complete ?? false,
  version: null,
  changed_by: status.go_live_state?.changed_by ?? null,
  reason: status.go_live_state?.reason ?? null,
  updated_at: status.go_live_state?.updated_at ?? null,
});

/** Two readings describe the same state (the version when the api has one, else every field). */
export const sameState = (a: LiveState | null, b: LiveState): boolean => {
  if (a === null) return false;
  if (a.version !== null && b.version !== null) return a.version === b.version;
  return JSON.stringify(a) === JSON.stringify(b);
};
