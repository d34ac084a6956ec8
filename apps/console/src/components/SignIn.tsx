import { useState } from 'preact/hooks';
import { describeError } from '../api/ApiError.js';
import { signIn } from '../api/session.js';
import type { Session } from '../api/types.js';
import { ErrorMessage } from './ErrorMessage.js';

/** Sign-in with a token: exchanged for an HttpOnly session cookie; the token itself is not kept by the page. */
export const SignIn = ({ onSignedIn }: { onSignedIn: (session: Session) => void }) => {
  const [token, setToken] = useState('');
  const [error, setError] = useState<{ code: string; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" class="sign-in">
      <h1>Valhalla go-live console</h1>
      <form
        class="panel"
        onSubmit={(event) => {
          event.preventDefault();
          setBusy(true);
          signIn(token.trim()).then(
            (session) => {
              setToken('');
              onSignedIn(session);
            },
            (failure: unknown) => {
              setError(describeError(failure));
              setBusy(false);
            },
          );
        }}
      >
        <label for="token">Access token</label>
        <input id="token" type="password" autoComplete="current-password" required value={token} onInput={(event) => setToken(event.currentTarget.value)} />
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
        <ErrorMessage error={error} />
      </form>
    </main>
  );
};
