import { request } from './http.js';
import type { Accepted, AuditPage, ChangeRequest, JobView, NotificationSubscription, QueuesOverview, RunbookStatus, VerificationRun } from './types.js';

/** Every api call the console makes, one line each, so the screens never build URLs. */

export const readStatus = () => request<RunbookStatus>('GET', '/api/governance/runbook/status');

export type AuditFilter = { actor?: string; action?: string; outcome?: string; before?: string };
export const readAudit = (filter: AuditFilter, limit = 20) => {
  const query = new URLSearchParams({ limit: String(limit) });
  for (const [key, value] of Object.entries(filter)) if (value !== undefined && value !== '') query.set(key, value);
  return request<AuditPage>('GET', `/api/governance/audit?${query.toString()}`);
};

export const readVerifications = (limit = 20) => request<{ items: VerificationRun[] }>('GET', `/api/governance/verifications?limit=${limit}`);
export const readQueues = () => request<QueuesOverview>('GET', '/api/queues');
export const readJob = (id: string) => request<JobView>('GET', `/api/jobs/${encodeURIComponent(id)}`);
export const readChangeRequests = (status = 'pending') =>
  request<{ items: ChangeRequest[] }>('GET', `/api/governance/change-requests?status=${encodeURIComponent(status)}`);

export const setKillSwitch = (engaged: boolean, reason: string) => request<Accepted>('POST', '/api/governance/kill-switch', { engaged, reason });
export const setGoLive = (enabled: boolean, reason: string) => request<Accepted>('POST', '/api/governance/go-live', { enabled, reason });
export const setBackendComplete = (backendComplete: boolean, reason: string) =>
  request<Accepted>('POST', '/api/governance/system-metadata', { backend_complete: backendComplete, reason });
export const runVerification = () => request<Accepted>('POST', '/api/governance/verify', {});
export const retryJob = (id: string, reason: string) => request<Accepted>('POST', `/api/jobs/${encodeURIComponent(id)}/retry`, { reason });
export const approveChangeRequest = (id: string, reason: string) =>
  request<ChangeRequest>('POST', `/api/governance/change-requests/${encodeURIComponent(id)}/approve`, { reason });
export const rejectChangeRequest = (id: string, reason: string) =>
  request<ChangeRequest>('POST', `/api/governance/change-requests/${encodeURIComponent(id)}/reject`, { reason });

const SUBSCRIPTIONS = '/api/notifications/subscriptions';
export type NewSubscription = { kind: 'webhook' | 'slack'; url: string; filter: NotificationSubscription['filter']; description?: string; reason: string };
export const readSubscriptions = () => request<{ items: NotificationSubscription[]; can_manage: boolean }>('GET', SUBSCRIPTIONS);
export const createSubscription = (body: NewSubscription) => request<NotificationSubscription & { secret: string | null }>('POST', SUBSCRIPTIONS, body);
export const setSubscriptionEnabled = (id: string, enabled: boolean, reason: string) =>
  request<NotificationSubscription>('PATCH', `${SUBSCRIPTIONS}/${encodeURIComponent(id)}`, { enabled, reason });
export const resumeSubscription = (id: string, reason: string) => request<NotificationSubscription>('POST', `${SUBSCRIPTIONS}/${encodeURIComponent(id)}/resume`, { reason });
export const deleteSubscription = (id: string, reason: string) => request<{ id: string }>('DELETE', `${SUBSCRIPTIONS}/${encodeURIComponent(id)}`, { reason });
