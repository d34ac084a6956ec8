/** The API's responses as the CLI reads them (the contract's shapes; fields the CLI does not show are left out). */
export type Queued = { jobId: string; status: string };

/** `error` was a string and becomes a record `{code, message, final}`: both are read (see jobError). */
export type Job = {
  id: string;
  queue: string;
  name: string;
  state: string;
  attempts: number;
  result: unknown;
  error: unknown;
};

export type JobError = { code: string | undefined; message: string; final: boolean | undefined };

export type RunbookStatus = {
  live: boolean;
  system_metadata: { version: string; backend_complete: boolean; notes: string | null } | null;
  go_live_state: { go_live_enabled: boolean; kill_switch_engaged: boolean; changed_by: string | null; reason: string | null; updated_at: string | null } | null;
  migrations: { head: string; applied: readonly unknown[]; pending: readonly string[] } | null;
  last_verification: { passed: boolean; release: string; finished_at: string } | null;
  workers: { alive: number } | null;
};

export type AuditPage = { items: Record<string, unknown>[]; next: string | number | null };
export type VerificationsPage = { items: Record<string, unknown>[] };

/** A job's error in either shape: `"CODE: message"` (older APIs) or `{code, message, final}`. */
export const jobError = (error: unknown): JobError | undefined => {
  if (error === null || error === undefined) return undefined;
  if (typeof error === 'string') {
    const match = /^([A-Z][A-Z0-9_]+): ([\s\S]*)$/.exec(error);
    return match ? { code: match[1], message: match[2] ?? '', final: undefined } : { code: undefined, message: error, final: undefined };
  }
  if (typeof error === 'object') {
    const record = error as Record<string, unknown>;
    return {
      code: typeof record['code'] === 'string' ? record['code'] : undefined,
      message: typeof record['message'] === 'string' ? record['message'] : JSON.stringify(error),
      final: typeof record['final'] === 'boolean' ? record['final'] : undefined,
    };
  }
  return { code: undefined, message: JSON.stringify(error), final: undefined };
};
