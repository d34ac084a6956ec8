import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_FAILURE_CODES, type JobBody, type JobFailureCode } from '../../packages/contract/src/index.js';
import { track } from '../helpers/leaks.js';
import { runCommand } from './runCommand.js';

const CLI = 'apps/cli/bin/valhalla.js';
const TOKEN = 'failure-table-token-0123456789';

/**
 * The CLI's exit code depends only on the job the api answers, so a small HTTP server stands in for the api here: it
 * answers GET /api/jobs/<code> with a job that failed with that code (the shape of GET /api/jobs/:id). Producing each
 * failure for real (a stall limit, a voided enqueue, an expiry) is covered by the worker and api tests.
 */
const failedJob = (code: JobFailureCode): JobBody => ({
  id: code,
  queue: 'governance',
  name: 'go-live-change',
  state: 'failed',
  attempts: 1,
  result: null,
  error: { code, message: `failed with ${code}`, final: JOB_FAILURE_CODES[code].final },
});

let server: Server;
let url = '';

beforeAll(async () => {
  server = track(
    createServer((request, response) => {
      const code = /^\/api\/jobs\/([A-Z_]+)$/.exec(request.url ?? '')?.[1];
      if (request.headers.authorization !== `Bearer ${TOKEN}` || code === undefined || !Object.hasOwn(JOB_FAILURE_CODES, code)) {
        response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no such job' } }));
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(failedJob(code as JobFailureCode)));
    }),
    { description: 'stand-in api for the failure table', isOpen: () => server.listening, close: () => new Promise((resolve) => server.close(resolve)) },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('valhalla CLI: exit codes of the failure table', () => {
  const codes = Object.keys(JOB_FAILURE_CODES) as JobFailureCode[];

  it('has rejections and failures that need a person in the table', () => {
    expect(codes.filter((code) => JOB_FAILURE_CODES[code].rejection)).toEqual(expect.arrayContaining(['PRECONDITION_FAILED', 'SUPERSEDED', 'ENQUEUE_UNCONFIRMED']));
    expect(codes.filter((code) => !JOB_FAILURE_CODES[code].rejection)).toEqual(expect.arrayContaining(['INTERNAL_ERROR', 'JOB_INTERRUPTED']));
  });

  it.each(codes)('jobs <id> of a job failed with %s exits 2 when the table calls it a rejection, else 1', async (code) => {
    const run = await runCommand(process.execPath, [CLI, 'jobs', code, '--json'], { VALHALLA_API_URL: url, VALHALLA_TOKEN: TOKEN });
    expect(run.stderr).toBe('');
    expect(run.json()).toMatchObject({ id: code, state: 'failed', error: { code } });
    expect(run.code).toBe(JOB_FAILURE_CODES[code].rejection ? 2 : 1);
  });
});
