/** A wait that did not settle within its bound; `what` names what was waited for. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
  // Plain fields rather than parameter properties: the fault suite and the bench load this source with Node's type
  // stripping, which refuses TypeScript-only syntax.
  readonly what: string;
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number) {
    super(`${what} did not settle within ${timeoutMs} ms`);
    this.what = what;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The one deadline of every process: settles as `promise` does, or rejects with a TimeoutError once `timeoutMs` has
 * passed. The promise itself is not cancelled (what it does after the deadline is ignored, its rejection included);
 * the timer never keeps the process alive.
 * @throws TimeoutError past the deadline; whatever `promise` rejects with before it.
 */
export const withTimeout = async <T>(promise: PromiseLike<T>, timeoutMs: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, timeoutMs)), timeoutMs);
    timer.unref();
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
};
