import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ErrorCode } from '@valhalla/contract';
import type { FastifyInstance } from 'fastify';
import type { ConnectionGuard } from '../edge/connectionGuard.js';
import { errorBody, statusOf } from '../errors.js';

const answerFor = (code: string | undefined): { code: ErrorCode; message: string } => {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { code: 'REQUEST_TIMEOUT', message: 'the request was not received within the request timeout' };
    case 'HPE_HEADER_OVERFLOW':
      return { code: 'HEADERS_TOO_LARGE', message: 'the request headers exceed the size limit' };
    default:
      return { code: 'VALIDATION_FAILED', message: 'malformed HTTP request' };
  }
};

/**
 * Node's `clientError` (a malformed request, a request not received within requestTimeout/headersTimeout, headers
 * over the size limit) is answered before Fastify sees a request: in the contract's error shape here, then the
 * socket is closed. Only the error's code is logged: Node attaches the raw request bytes (`rawPacket`), which can
 * hold an Authorization header or a cookie.
 *
 * Nothing is written when an answer is already under way on the connection (an open stream with a request pipelined
 * behind it, or the early answer to a request whose body is still arriving): raw bytes would land inside that answer.
 * The connection is closed without a word instead.
 */
export const createClientErrorHandler = (guard: ConnectionGuard) =>
  function clientErrorHandler(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    const answer = answerFor(error.code);
    this.log.debug({ clientError: error.code, code: answer.code }, 'client error answered before routing');
    if (socket.writable && !guard.responseStarted(socket)) {
      const status = statusOf(answer.code);
      const body = JSON.stringify(errorBody(answer.code, answer.message));
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
