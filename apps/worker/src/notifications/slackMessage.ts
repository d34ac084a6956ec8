import type { AuditEntry } from '@valhalla/contract';
import { consoleEntryUrl } from './webhookMessage.js';

/** Slack's mrkdwn treats &, < and > as markup (`<!channel>` pings everyone, `<url|text>` makes a link): escape them. */
const escape = (text: string): string => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** Slack caps a section's text at 3000 characters and a header at 150. */
const clip = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

const TITLES: Readonly<Record<string, string>> = {
  'kill_switch.engage': 'Kill switch engaged',
  'kill_switch.release': 'Kill switch released',
  'go_live.enable': 'Go-live enabled',
  'go_live.disable': 'Go-live disabled',
  'metadata.update': 'System metadata updated',
  'change_request.requested': 'Change request waiting for approval',
  'verification.failed': 'Verification failed',
  'verification.drift': 'Verification drift',
  'notification.subscription_dead_lettered': 'Notification subscription dead-lettered',
};

const title = (entry: AuditEntry): string => {
  const base = TITLES[entry.action] ?? entry.action;
  if (entry.kind !== 'change' || entry.outcome === 'applied') return base;
  return `${base} (${entry.outcome}${entry.outcome === 'rejected' && entry.unmet_conditions.length > 0 ? `: ${entry.unmet_conditions.join(', ')}` : ''})`;
};

const show = (value: unknown): string => (value === null || value === undefined ? '–' : typeof value === 'string' ? value : JSON.stringify(value));

/** The fields a change moved, `field: before → after`; for an event, nothing (its details follow instead). */
const transitions = (entry: AuditEntry): string[] => {
  if (entry.kind !== 'change') return [];
  const before = entry.before as Record<string, unknown>;
  const after = entry.after as Record<string, unknown>;
  const fields = Object.keys(after).filter((field) => JSON.stringify(before[field]) !== JSON.stringify(after[field]));
  return fields.map((field) => `\`${field}\`: ${escape(show(before[field]))} → ${escape(show(after[field]))}`);
};

/**
 * A Slack incoming-webhook message in Block Kit: a header naming what happened, the action (and outcome), the actor,
 * the reason, what changed (before → after), the audit id and time, and a button to the console's audit screen when
 * NOTIFICATION_CONSOLE_URL is set. `text` is the plain fallback Slack shows in notifications. Text from the audit
 * entry is escaped, so a reason cannot mention @channel or make a link.
 */
export const slackBody = (entry: AuditEntry, consoleUrl: string | undefined): string => {
  const heading = title(entry);
  const changed = transitions(entry);
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(heading, 150), emoji: false } },
    {
      type: 'section',
      fields: [
        { type: 'mrkdwn', text: clip(`*Action*\n\`${escape(entry.action)}\`${entry.outcome === null ? '' : ` (${entry.outcome})`}`, 2000) },
        { type: 'mrkdwn', text: clip(`*Actor*\n${escape(entry.actor)}`, 2000) },
      ],
    },
    { type: 'section', text: { type: 'mrkdwn', text: clip(`*Reason*\n${escape(entry.reason)}`, 3000) } },
  ];
  if (changed.length > 0) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*Before → after*\n${changed.join('\n')}`, 3000) } });
  else if (entry.kind === 'event' && Object.keys(entry.details).length > 0) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: clip(`*Details*\n\`\`\`${escape(JSON.stringify(entry.details))}\`\`\``, 3000) } });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `audit entry #${entry.id} · ${entry.created_at}` }] });
  if (consoleUrl !== undefined) {
    blocks.push({
      type: 'actions',
      elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in the console' }, url: consoleEntryUrl(consoleUrl, entry.id) }],
    });
  }
  const fallback = `${heading} by ${entry.actor}: ${entry.reason}`;
  return JSON.stringify({ text: clip(escape(fallback), 3000), blocks });
};
