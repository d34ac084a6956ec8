import { EXIT, REASON_FLAG, requireOption, type Command, type CommandContext } from '../command.js';
import { table } from '../format.js';

/** A change request as the api answers it (the fields the CLI shows). */
type ChangeRequest = { id: string; status: string; jobId: string | null; approvals: { approver: string }[]; required: number };

export const requestsCommand: Command = {
  name: 'requests',
  synopsis: '[--status S] [--limit N]',
  summary: 'four-eyes change requests, newest first',
  words: 0,
  flags: {
    '--status': { description: 'only requests in this status (pending_approval, enqueued, rejected, ...)', value: 'S' },
    '--limit': { description: 'requests to list (1-200)', value: 'N' },
  },
  run: async ({ api, option, print }) => {
    const query = new URLSearchParams();
    for (const [flag, key] of [['--status', 'status'], ['--limit', 'limit']] as const) {
      const value = option(flag);
      if (value !== undefined) query.set(key, value);
    }
    const page = await api().get<{ items: Record<string, unknown>[] }>(`/api/governance/change-requests${query.size > 0 ? `?${query.toString()}` : ''}`);
    // The requester counts as the first approval.
    const rows = page.items.map((item) => ({ ...item, approvals: `${(item['approvals'] as unknown[]).length + 1}/${String(item['required'])}` }));
    print(table(rows, ['id', 'status', 'action', 'requested_by', 'approvals', 'expires_at', 'reason']), page);
    return EXIT.done;
  },
};

/** approve, reject and cancel: one POST on the request, with a reason. */
const closeStep = (step: 'approve' | 'reject' | 'cancel', summary: string): Command => ({
  name: step,
  synopsis: '<id> --reason TEXT',
  summary,
  words: 1,
  flags: { ...REASON_FLAG },
  run: async (context: CommandContext) => {
    const id = context.words[0] as string;
    const reason = requireOption(context, '--reason', 'TEXT');
    const request = await context.api().post<ChangeRequest>(`/api/governance/change-requests/${encodeURIComponent(id)}/${step}`, { reason });
    const progress = request.status === 'pending_approval' ? ` (${request.approvals.length + 1} of ${request.required})` : '';
    context.print(`change request ${request.id}: ${request.status}${progress}${request.jobId === null ? '' : `, job ${request.jobId}`}`, request);
    return EXIT.done;
  },
});

export const approveCommand = closeStep('approve', 'approve a change request (another operator than the requester)');
export const rejectCommand = closeStep('reject', 'reject a change request (by the requester: cancel)');
export const cancelCommand = closeStep('cancel', 'cancel your own change request');
