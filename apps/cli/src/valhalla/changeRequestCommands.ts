import type { ApiClient } from './apiClient.js';
import { table } from './format.js';
import { stringOption, type ParsedArgs } from './parseArgs.js';
import { CHANGE_REQUEST_COMMANDS, type ChangeRequestCommand } from './changeRequestShapes.js';
import { UsageError } from './validateArgs.js';

export const isChangeRequestCommand = (command: string | undefined): command is ChangeRequestCommand =>
  (CHANGE_REQUEST_COMMANDS as readonly string[]).includes(command ?? '');

export const CHANGE_REQUEST_USAGE = `  requests [--status S] [--limit N]        four-eyes change requests, newest first
  approve|reject|cancel <id> --reason TEXT approve (another operator), reject, or cancel (the requester)`;

type ChangeRequest = { id: string; status: string; jobId: string | null; approvals: { approver: string }[]; required: number };

/** Runs one change request command; returns the exit code. @throws UsageError, ApiCallError. */
export const runChangeRequestCommand = async (
  command: ChangeRequestCommand,
  args: ParsedArgs,
  api: ApiClient,
  print: (human: string, machine: unknown) => void,
): Promise<number> => {
  const [, id] = args.positional;
  if (command === 'requests') {
    const query = new URLSearchParams();
    for (const [flag, key] of [['--status', 'status'], ['--limit', 'limit']] as const) {
      const value = stringOption(args, flag);
      if (value !== undefined) query.set(key, value);
    }
    const page = await api.get<{ items: Record<string, unknown>[] }>(`/api/governance/change-requests${query.size > 0 ? `?${query}` : ''}`);
    const rows = page.items.map((item) => ({ ...item, approvals: `${(item.approvals as unknown[]).length + 1}/${String(item.required)}` }));
    print(table(rows, ['id', 'status', 'action', 'requested_by', 'approvals', 'expires_at', 'reason']), page);
    return 0;
  }
  if (id === undefined) throw new UsageError(`${command} takes a change request id`);
  const reason = stringOption(args, '--reason');
  if (reason === undefined || reason.length === 0) throw new UsageError('--reason TEXT is required (1-500 characters)');
  const request = await api.post<ChangeRequest>(`/api/governance/change-requests/${encodeURIComponent(id)}/${command}`, { reason });
  const progress = request.status === 'pending_approval' ? ` (${request.approvals.length + 1} of ${request.required})` : '';
  print(`change request ${request.id}: ${request.status}${progress}${request.jobId === null ? '' : `, job ${request.jobId}`}`, request);
  return 0;
};
