import type { NotificationSubscriptionBody } from '@valhalla/contract';
import { EXIT, REASON_FLAG, UsageError, requireOption, type Command, type CommandContext } from '../command.js';
import { keyValues, table } from '../format.js';

/** A subscription as the api answers it; `secret` only in the answer that creates it or rotates its secret. */
type Subscription = NotificationSubscriptionBody & { secret?: string | null };

const PATH = '/api/notifications/subscriptions';
const SUBCOMMANDS = ['list', 'show', 'add', 'update', 'pause', 'enable', 'resume', 'rotate-secret', 'remove'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

/** Which flags each subcommand takes (the command's flag table is their union, for the usage). */
const FILTER_FLAGS = ['--kinds', '--actions', '--outcomes'];
const ALLOWED: Readonly<Record<Subcommand, readonly string[]>> = {
  list: [],
  show: ['--limit'],
  add: ['--kind', '--url', ...FILTER_FLAGS, '--description', '--paused', '--reason'],
  update: ['--url', ...FILTER_FLAGS, '--description', '--reason'],
  pause: ['--reason'],
  enable: ['--reason'],
  resume: ['--reason', '--skip-backlog'],
  'rotate-secret': ['--reason'],
  remove: ['--reason'],
};

const describeFilter = (filter: Subscription['filter']): string => {
  const parts = [
    filter.kinds === undefined ? undefined : `kinds=${filter.kinds.join(',')}`,
    filter.actions === undefined ? undefined : `actions=${filter.actions.join(',')}`,
    filter.outcomes === undefined ? undefined : `outcomes=${filter.outcomes.join(',')}`,
  ].filter((part) => part !== undefined);
  return parts.length === 0 ? 'every entry' : parts.join(' ');
};

const lastError = (status: Subscription['status']) =>
  status.last_error === null ? null : `${status.last_error.code}${status.last_error.http_status === null ? '' : ` ${status.last_error.http_status}`} at ${status.last_error.at}: ${status.last_error.message}`;

const row = (sub: Subscription) => ({
  id: sub.id,
  kind: sub.kind,
  target: sub.target,
  state: sub.status.state,
  circuit: sub.status.circuit,
  backlog: sub.status.backlog,
  oldest_pending: sub.status.oldest_pending_at,
  last_success: sub.status.last_success_at,
  last_error: sub.status.last_error === null ? null : `${sub.status.last_error.code}${sub.status.last_error.http_status === null ? '' : ` ${sub.status.last_error.http_status}`}`,
});

const details = (sub: Subscription): string =>
  keyValues([
    ['id', sub.id],
    ['kind', sub.kind],
    ['target', sub.target],
    ['description', sub.description],
    ['filter', describeFilter(sub.filter)],
    ['enabled', sub.enabled],
    ['state', sub.status.state],
    ['circuit', sub.status.circuit],
    ['backlog', sub.status.backlog],
    ['oldest pending', sub.status.oldest_pending_at],
    ['delivered through', `audit entry ${sub.status.delivered_through}`],
    ['last success', sub.status.last_success_at],
    ['last error', lastError(sub.status)],
    ['failures in a row', sub.status.consecutive_failures],
    ['next attempt', sub.status.next_attempt_at],
    ['dead-lettered', sub.status.dead_lettered_at === null ? null : `${sub.status.dead_lettered_at}: ${sub.status.dead_letter_reason ?? ''}`],
    ['secret key id', sub.secret_key_id],
    ['created', `${sub.created_at} by ${sub.created_by}`],
  ]);

/** `--actions a,b` → ['a', 'b']: the api validates the names and says which one is wrong. */
const list = (value: string | undefined): string[] | undefined => value?.split(',').map((item) => item.trim()).filter((item) => item.length > 0);

/** The filter the flags give; undefined when none is given (update: keep the filter; add: every entry). */
const filterFrom = (context: CommandContext) => {
  const given = FILTER_FLAGS.filter((flag) => context.option(flag) !== undefined);
  if (given.length === 0) return undefined;
  const [kinds, actions, outcomes] = FILTER_FLAGS.map((flag) => list(context.option(flag)));
  return { ...(kinds === undefined ? {} : { kinds }), ...(actions === undefined ? {} : { actions }), ...(outcomes === undefined ? {} : { outcomes }) };
};

const idOf = (context: CommandContext, sub: Subcommand): string => {
  const id = context.words[1];
  if (id === undefined || id.length === 0) throw new UsageError(`notifications ${sub} needs a subscription id`);
  return encodeURIComponent(id);
};

const show = async (context: CommandContext, id: string) => {
  const limit = context.option('--limit') ?? '10';
  const [sub, deliveries] = await Promise.all([
    context.api().get<Subscription>(`${PATH}/${id}`),
    context.api().get<{ items: Record<string, unknown>[] }>(`${PATH}/${id}/deliveries?limit=${encodeURIComponent(limit)}`),
  ]);
  context.print(
    `${details(sub)}\n\nnewest deliveries:\n${table(deliveries.items, ['audit_id', 'action', 'outcome', 'status', 'attempts', 'last_status', 'last_error_code', 'finished_at'])}`,
    { ...sub, deliveries: deliveries.items },
  );
  return EXIT.done;
};

export const notificationsCommand: Command = {
  name: 'notifications',
  synopsis: `[${SUBCOMMANDS.join('|')}] [ID] [options]`,
  summary: 'notification subscriptions (webhooks, Slack): delivery status; add, change, resume (ADMIN_ACTORS)',
  words: 'rest',
  flags: {
    '--kind': { description: 'add: webhook (signed, Standard Webhooks) or slack', value: 'KIND' },
    '--url': { description: 'add, update: the target (for slack, the incoming-webhook URL)', value: 'URL' },
    '--kinds': { description: 'add, update: filter on entry kinds: change, event (comma-separated)', value: 'LIST' },
    '--actions': { description: 'add, update: filter on audit actions, e.g. kill_switch.engage,kill_switch.release', value: 'LIST' },
    '--outcomes': { description: 'add, update: filter on change outcomes: applied, unchanged, rejected', value: 'LIST' },
    '--description': { description: 'add, update: a note for people', value: 'TEXT' },
    '--paused': { description: 'add: create it paused' },
    '--skip-backlog': { description: 'resume: skip the pending deliveries instead of sending them (in order)' },
    '--limit': { description: 'show: newest deliveries to list (1-200, default 10)', value: 'N' },
    ...REASON_FLAG,
  },
  run: async (context) => {
    // `words: 'rest'` hands over everything after the command: read the words and options again, checked per subcommand.
    const words = context.args.positional.slice(1);
    const sub = (words[0] ?? 'list') as Subcommand;
    if (!SUBCOMMANDS.includes(sub)) throw new UsageError(`unknown notifications subcommand ${JSON.stringify(words[0])} (${SUBCOMMANDS.join(', ')})`);
    for (const flag of context.args.options.keys()) {
      if (flag !== '--json' && !ALLOWED[sub].includes(flag)) throw new UsageError(`notifications ${sub} does not take ${flag}`);
    }
    const expectedWords = sub === 'list' || sub === 'add' ? 1 : 2;
    if (words.length > expectedWords) throw new UsageError(`unexpected argument ${JSON.stringify(words[expectedWords])} for notifications ${sub}`);
    const ctx = { ...context, words };
    const api = context.api;
    switch (sub) {
      case 'list': {
        const page = await api().get<{ items: Subscription[]; can_manage: boolean }>(PATH);
        context.print(page.items.length === 0 ? 'no notification subscriptions' : table(page.items.map(row), ['id', 'kind', 'target', 'state', 'circuit', 'backlog', 'oldest_pending', 'last_success', 'last_error']), page);
        return EXIT.done;
      }
      case 'show':
        return show(ctx, idOf(ctx, sub));
      case 'add': {
        const body = {
          kind: requireOption(ctx, '--kind', 'webhook|slack'),
          url: requireOption(ctx, '--url', 'URL'),
          filter: filterFrom(ctx) ?? {},
          ...(ctx.option('--description') === undefined ? {} : { description: ctx.option('--description') }),
          ...(context.args.options.has('--paused') ? { enabled: false } : {}),
          reason: requireOption(ctx, '--reason', 'TEXT'),
        };
        const created = await api().post<Subscription>(PATH, body);
        const secret = created.secret === null || created.secret === undefined ? '' : `\nsigning secret (shown only now; give it to the receiver): ${created.secret}`;
        context.print(`subscription ${created.id} created (${created.kind}, ${describeFilter(created.filter)})${secret}`, created);
        return EXIT.done;
      }
      case 'update': {
        const filter = filterFrom(ctx);
        const body = {
          ...(ctx.option('--url') === undefined ? {} : { url: ctx.option('--url') }),
          ...(filter === undefined ? {} : { filter }),
          ...(ctx.option('--description') === undefined ? {} : { description: ctx.option('--description') }),
          reason: requireOption(ctx, '--reason', 'TEXT'),
        };
        const updated = await api().patch<Subscription>(`${PATH}/${idOf(ctx, sub)}`, body);
        context.print(`subscription ${updated.id} updated\n${details(updated)}`, updated);
        return EXIT.done;
      }
      case 'pause':
      case 'enable': {
        const updated = await api().patch<Subscription>(`${PATH}/${idOf(ctx, sub)}`, { enabled: sub === 'enable', reason: requireOption(ctx, '--reason', 'TEXT') });
        context.print(`subscription ${updated.id}: ${updated.status.state}`, updated);
        return EXIT.done;
      }
      case 'resume': {
        const body = { reason: requireOption(ctx, '--reason', 'TEXT'), ...(context.args.options.has('--skip-backlog') ? { skip_backlog: true } : {}) };
        const resumed = await api().post<Subscription>(`${PATH}/${idOf(ctx, sub)}/resume`, body);
        context.print(`subscription ${resumed.id}: ${resumed.status.state}, backlog ${resumed.status.backlog}`, resumed);
        return EXIT.done;
      }
      case 'rotate-secret': {
        const rotated = await api().post<Subscription>(`${PATH}/${idOf(ctx, sub)}/rotate-secret`, { reason: requireOption(ctx, '--reason', 'TEXT') });
        context.print(`subscription ${rotated.id}: new signing secret (shown only now; the old one no longer signs): ${rotated.secret ?? ''}`, rotated);
        return EXIT.done;
      }
      case 'remove': {
        const removed = await api().delete<{ id: string; dropped_pending: number }>(`${PATH}/${idOf(ctx, sub)}`, { reason: requireOption(ctx, '--reason', 'TEXT') });
        context.print(`subscription ${removed.id} removed (${removed.dropped_pending} pending deliveries dropped)`, removed);
        return EXIT.done;
      }
      default: {
        const exhaustive: never = sub;
        throw new UsageError(`unknown notifications subcommand ${String(exhaustive)}`);
      }
    }
  },
};
