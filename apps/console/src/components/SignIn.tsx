import { useState } from 'preact/hooks';
import { describeError } from '../api/ApiError.js';
import { signIn } from '../api/session.js';
import type { Session } from '../api/types.js';
import { ErrorMessage } from './ErrorMessage.js';

/**
 * Sign-in with a token: exchanged for an HttpOnly session cookie; the token itself is not kept by the page. The page
 * says where a token comes from: a new operator has none and nothing else tells them.
 */
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
        <input
          id="token"
          type="password"
          autoComplete="current-password"
          required
          aria-describedby="token-help"
          value={token}
          onInput={(event) => setToken(event.currentTarget.value)}
        />
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
        <ErrorMessage error={error} />
        <div id="token-help" class="token-help" data-testid="token-help">
          <p>
            <strong>Where tokens come from.</strong> Whoever runs the api sets them in its environment as <code>actor:token</code>{' '}
            pairs: <code>GOVERNANCE_TOKENS</code> for operators (who change the state), <code>READER_TOKENS</code> for readers (who
            look). Paste your token, the part after <code>actor:</code> (the whole pair works too).
          </p>
          <ul>
            <li>
              Running <code>npm run dev</code>: the token is in its banner and in <code>.dev/dev-token</code>.
            </li>
            <li>
              A new one: <code>npx valhalla token --actor your-name</code> prints a pair to add to the api's{' '}
              <code>GOVERNANCE_TOKENS</code> (Render: the api's Environment page), then restart the api.
            </li>
          </ul>
        </div>
      </form>
    </main>
  );
};
