import { sql, type CommonQueryMethods } from 'slonik';
import { z } from 'zod';
import { liveStateBody, type LiveStateBody } from '@valhalla/contract';


const liveStateRecord = liveStateBody.extend({ etag: z.string().min(1) });

/**
 * One state as the api serves it: the body, its entity tag, and the body's JSON rendered once for each audience:
 * `json` for operators and readers, `appJson` for app tokens (see appLiveStateBody).
 */
export type LiveState = { readonly body: LiveStateBody; readonly etag: string; readonly json: string; readonly appJson: string };

/**
 * The body an app token is shown: the same fields, with `changed_by` and `reason` null. A reason can carry incident
 * details (who, what broke, a ticket) that the services obeying the switch have no need for; operators and readers,
 * who can read the audit log anyway, see both.
 */
const appLiveStateBody = (body: LiveStateBody): LiveStateBody => ({ ...body, changed_by: null, reason: null });

/**
 * The one query that reads the live state: the SQL function `governance_live_state()` (revision
 * 20260212_live_state_notify), which the notify trigger also sends, so a read and a notification cannot disagree.
 */
export const LIVE_STATE_QUERY = 'SELECT public.governance_live_state()::text AS state';

/** The channel the notify trigger sends every committed state on. An empty payload means "read the state". */
export const LIVE_STATE_CHANNEL = 'valhalla_live_state';

/**
 * Parses the function's JSON (a notification payload or a read) into a LiveState with its body rendered once.
 * @throws ZodError or SyntaxError on a payload of another shape.
 */
export const parseLiveState = (text: string): LiveState => {
  const { etag, ...fields } = liveStateRecord.parse(JSON.parse(text));
  const body: LiveStateBody = {
    live: fields.live,
    go_live_enabled: fields.go_live_enabled,
    kill_switch_engaged: fields.kill_switch_engaged,
    backend_complete: fields.backend_complete,
    version: fields.version,
    changed_by: fields.changed_by,
    reason: fields.reason,
    updated_at: fields.updated_at,
  };
  return { body, etag, json: JSON.stringify(body), appJson: JSON.stringify(appLiveStateBody(body)) };
};

const stateRow = z.object({ state: z.string().nullable() });

/** Reads the live state through a slonik pool or transaction; null when a seed row is missing. */
export const readLiveState = async (db: CommonQueryMethods): Promise<LiveState | null> => {
  const row = await db.one(sql.type(stateRow)`SELECT public.governance_live_state()::text AS state`);
  return row.state === null ? null : parseLiveState(row.state);
};
