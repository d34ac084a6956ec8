import { setTimeout as sleep } from 'node:timers/promises';
import type { Random } from '../random.js';
import { httpRequestFor, pickChangeKind, type ChangeKind } from './changeMix.js';

/** How a request ended: the last HTTP answer, or no answer at all (status null: a network error or a time-out). */
type FinalAnswer = {
  status: number | null;
  at: number;
  /** Which api answered (or was asked last). */
  api: string;
  body: unknown;
  /** A keyed request still unanswered (5xx or no answer) when the client stopped retrying. */
  gaveUp: boolean;
};

/** One change or verification asked for over HTTP, with every attempt's fate summed up. */
export type HttpChangeRecord = {
  id: string;
  kind: ChangeKind;
  keyed: boolean;
  key: string | null;
  /** Unique per request (repeats of a keyed request send the same body): finds its audit entries. */
  reason: string;
  /** When the first attempt was sent (ms since the epoch, this machine's clock, which PostgreSQL shares here). */
  sentAt: number;
  attempts: number;
  /** Attempts repeated because of a network error or a time-out, and because of a 5xx answer. */
  repeatedAfter: { noAnswer: number; serverError: number };
  final: FinalAnswer | undefined;
};

export type HttpClients = {
  readonly records: readonly HttpChangeRecord[];
  /**
   * Stops sending new requests and waits for those in flight; a keyed request still unanswered `giveUpAfterMs` later
   * ends as given up.
   */
  stop: (giveUpAfterMs: number) => Promise<void>;
};

const ATTEMPT_TIMEOUT_MS = 15_000;
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 1_000;

type Attempt = { status: number | null; body: unknown; error?: string };

const send = async (url: string, token: string, request: { path: string; body: unknown }, key: string | null): Promise<Attempt> => {
  try {
    const response = await fetch(`${url}${request.path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(key === null ? {} : { 'idempotency-key': key }) },
      body: JSON.stringify(request.body),
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's page, a truncated answer): kept as text.
    }
    return { status: response.status, body };
  } catch (error) {
    return { status: null, body: null, error: error instanceof Error ? error.message : String(error) };
  }
};

/**
 * HTTP clients of the operator: `keyed` of them send every request with an Idempotency-Key and, like a careful
 * client, repeat it (same key, same body, to the next api) after a network error or a 5xx until it is answered;
 * `unkeyed` ones send no key and take the first answer. Each waits `pauseMs` between requests.
 */
export const startHttpClients = (options: {
  apiUrls: readonly string[];
  token: string;
  runId: string;
  keyed: number;
  unkeyed: number;
  pauseMs: { min: number; max: number };
  random: Random;
}): HttpClients => {
  const records: HttpChangeRecord[] = [];
  let stopping = false;
  let giveUpAt = Number.POSITIVE_INFINITY;
  let turn = 0;
  const nextApi = () => {
    turn += 1;
    return options.apiUrls[turn % options.apiUrls.length] as string;
  };

  const run = async (record: HttpChangeRecord, request: { path: string; body: unknown }) => {
    for (let retry = 0; ; retry += 1) {
      const api = nextApi();
      record.attempts += 1;
      const attempt = await send(api, options.token, request, record.key);
      const unanswered = attempt.status === null || attempt.status >= 500;
      if (!unanswered || !record.keyed || Date.now() >= giveUpAt) {
        record.final = { status: attempt.status, at: Date.now(), api, body: attempt.error ?? attempt.body, gaveUp: unanswered && record.keyed };
        return;
      }
      if (attempt.status === null) record.repeatedAfter.noAnswer += 1;
      else record.repeatedAfter.serverError += 1;
      await sleep(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(retry, 10)));
    }
  };

  const client = async (name: string, keyed: boolean) => {
    for (let n = 1; !stopping; n += 1) {
      const id = `${name}-${n}`;
      const kind = pickChangeKind(options.random, { verify: keyed });
      const reason = `chaos ${options.runId} ${id} ${kind}`;
      const record: HttpChangeRecord = {
        id,
        kind,
        keyed,
        key: keyed ? `chaos-${options.runId}-${id}` : null,
        reason,
        sentAt: Date.now(),
        attempts: 0,
        repeatedAfter: { noAnswer: 0, serverError: 0 },
        final: undefined,
      };
      records.push(record);
      await run(record, httpRequestFor(kind, reason, options.random));
      await sleep(options.random.between(options.pauseMs.min, options.pauseMs.max));
    }
  };

  const running = [
    ...Array.from({ length: options.keyed }, (_, i) => client(`k${i + 1}`, true)),
    ...Array.from({ length: options.unkeyed }, (_, i) => client(`u${i + 1}`, false)),
  ];
  return {
    records,
    stop: async (giveUpAfterMs) => {
      stopping = true;
      giveUpAt = Date.now() + giveUpAfterMs;
      await Promise.all(running);
    },
  };
};
