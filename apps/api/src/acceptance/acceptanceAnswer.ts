import type { FastifyReply } from 'fastify';
import type { JobAccepted, JobCompleted } from '@valhalla/contract';

/** The answer to an accepted request: 202 queued, or 200 with a stored or just-made result; `replayed` for the header. */
export type AcceptanceAnswer = { code: 200 | 202; body: JobAccepted | JobCompleted; replayed: boolean };

/** Sets the status (and the replay header) of `reply` and returns the body to send. */
export const replyWith = (reply: FastifyReply, answer: AcceptanceAnswer): JobAccepted | JobCompleted => {
  if (answer.replayed) reply.header('Idempotent-Replayed', 'true');
  reply.code(answer.code);
  return answer.body;
};
