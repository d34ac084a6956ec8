/** A check that could not run reports why, in one line (never a stack: it is stored and shown to operators). */
export const describeError = (error: unknown): string => (error instanceof Error ? error.message : String(error));
