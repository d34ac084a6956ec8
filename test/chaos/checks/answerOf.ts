import type { HttpChangeRecord } from '../clients/httpClients.js';

/** The parts of a 2xx answer the checks read: `{"jobId", "status", "result"?}`. */
export type ChangeAnswer = { jobId: string | undefined; status: string | undefined; auditId: number | undefined; action: string | undefined };

const field = (value: unknown, name: string): unknown =>
  typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;

export const answerOf = (record: HttpChangeRecord): ChangeAnswer => {
  const body = record.final?.body;
  const jobId = field(body, 'jobId');
  const status = field(body, 'status');
  const result = field(body, 'result');
  const auditId = field(result, 'auditId');
  const action = field(result, 'action');
  return {
    jobId: typeof jobId === 'string' ? jobId : undefined,
    status: typeof status === 'string' ? status : undefined,
    auditId: typeof auditId === 'number' ? auditId : undefined,
    action: typeof action === 'string' ? action : undefined,
  };
};

/** A final answer in the 2xx range. */
export const isAnswered2xx = (record: HttpChangeRecord): boolean =>
  record.final?.status !== null && record.final?.status !== undefined && record.final.status >= 200 && record.final.status < 300;
