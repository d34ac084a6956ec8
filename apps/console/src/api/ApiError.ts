/** An error answer of the api in the contract's shape, or a network failure (code NETWORK_ERROR). */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: readonly { field: string; message: string }[];

  constructor(code: string, message: string, status: number, details: readonly { field: string; message: string }[] = []) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.details = details;
  }
}

/** A readable sentence for any thrown value, always with the error code when there is one. */
export const describeError = (error: unknown): { code: string; message: string } => {
  if (error instanceof ApiError) {
    const details = error.details.map((detail) => `${detail.field}: ${detail.message}`).join('; ');
    return { code: error.code, message: details.length > 0 ? `${error.message} (${details})` : error.message };
  }
  return { code: 'CONSOLE_ERROR', message: error instanceof Error ? error.message : String(error) };
};
