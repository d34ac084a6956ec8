export type JobError = { code: string | undefined; message: string; final: boolean | undefined };
/** A job's error in either shape: `"CODE: message"` (older APIs) or `{code, message, final}`. */
export const jobError = (error: unknown): JobError | undefined => {
  if (error === null || error === undefined) return undefined;
  if (typeof error === 'string') {
    const match = /^([A-Z][A-Z0-9_]+): ([\s\S]*)$/.exec(error);
    return match ? { code: match[1], message: match[2] ?? '', final: undefined } : { code: undefined, message: error, final: undefined };
  }
  if (typeof error === 'object') {
    const record = error as Record<string, unknown>;
    return {
      code: typeof record['code'] === 'string' ? record['code'] : undefined,
      message: typeof record['message'] === 'string' ? record['message'] : JSON.stringify(error),
      final: typeof record['final'] === 'boolean' ? record['final'] : undefined,
    };
  }
  return { code: undefined, message: JSON.stringify(error), final: undefined };
};
