/** An error as an operator reads it: the stable code first, then the api's sentence. Announced to screen readers. */
export const ErrorMessage = ({ error }: { error: { code: string; message: string } | null }) =>
  error === null ? null : (
    <p class="error" role="alert">
      <span class="code">{error.code}</span> {error.message}
    </p>
  );
