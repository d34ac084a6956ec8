import { isDeepStrictEqual } from 'node:util';
import { replayAudit } from '../../../packages/core/src/index.js';
import { type StateSnapshot } from '../../../packages/contract/src/index.js';
import { checkResult, type CheckResult } from './checkResult.js';
import type { RunRecord } from './readRunRecord.js';

/**
 * The audit log tells the story of the state: each change entry's `before` is the state the entries before it left
 * (from the state at the start of the run), and replaying the applied ones gives row 1 of both tables now.
 */
export const checkStateReplay = (run: RunRecord, initial: StateSnapshot): CheckResult => {
  const violations: string[] = [];
  let state = initial;
  for (const entry of run.changes) {
    if (!isDeepStrictEqual(entry.before, state) && violations.length < 20) {
      violations.push(`audit entry ${entry.id} (${entry.action}, job ${entry.job_id}) starts from ${JSON.stringify(entry.before)}, but the entries before it left ${JSON.stringify(state)}`);
    }
    state = replayAudit(state, [entry]);
  }
  if (!isDeepStrictEqual(state, run.state)) violations.push(`replaying the log gives ${JSON.stringify(state)}, the tables hold ${JSON.stringify(run.state)}`);
  return checkResult('state-equals-replay', 'row 1 of go_live_state and system_metadata equals the replay of the applied change entries', run.changes.length, violations);
};
