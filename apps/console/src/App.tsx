import { useEffect, useState } from 'preact/hooks';
import { describeError } from './api/ApiError.js';
import { readStatus } from './api/calls.js';
import { resumeSession, signOut } from './api/session.js';
import type { Session } from './api/types.js';
import { EngageKillSwitch } from './components/EngageKillSwitch.js';
import { ErrorMessage } from './components/ErrorMessage.js';
import { SignIn } from './components/SignIn.js';
import { StatusBanner } from './components/StatusBanner.js';
import { useLiveState } from './live/useLiveState.js';
import { useResource } from './live/useResource.js';
import { SCREENS, useRoute, type Screen } from './route.js';
import { AuditScreen } from './screens/AuditScreen.js';
import { NotificationsScreen } from './screens/NotificationsScreen.js';
import { OverviewScreen } from './screens/OverviewScreen.js';
import { SystemScreen } from './screens/SystemScreen.js';
import { VerificationsScreen } from './screens/VerificationsScreen.js';

const Console = ({ session, onSignOut }: { session: Session; onSignOut: () => void }) => {
  const route = useRoute();
  const live = useLiveState(true);
  // Every state change (its identity changes once per change) reads the runbook status again.
  const status = useResource(readStatus, [live.state]);
  const changed = status.reload;

  useEffect(() => {
    document.title = `${live.state === null ? '…' : live.state.live ? 'LIVE' : 'NOT LIVE'} · ${SCREENS[route.screen]} · Valhalla`;
  }, [live.state, route.screen]);

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <h1>Valhalla go-live</h1>
        <p class="who" data-testid="who">
          {session.actor} · <span class="role">{session.role}</span>
        </p>
        <button type="button" class="secondary small" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <div class={`status-strip ${session.role === 'operator' ? '' : 'no-controls'}`}>
        <StatusBanner state={live.state} connection={live.connection} />
        {session.role === 'operator' ? <EngageKillSwitch version={live.state?.version ?? null} onDone={changed} /> : null}
      </div>
      <ErrorMessage error={live.error} />
      <nav aria-label="Screens">
        <ul>
          {(Object.entries(SCREENS) as [Screen, string][]).map(([screen, label]) => (
            <li key={screen}>
              <a href={`#/${screen}`} aria-current={route.screen === screen ? 'page' : undefined}>
                {label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        {route.screen === 'overview' ? <OverviewScreen session={session} state={live.state} status={status} onChanged={changed} /> : null}
        {route.screen === 'audit' ? <AuditScreen key={route.params.toString()} session={session} params={route.params} state={live.state} status={status.data} onChanged={changed} /> : null}
        {route.screen === 'verifications' ? <VerificationsScreen params={route.params} state={live.state} head={status.data?.migrations.head} /> : null}
        {route.screen === 'system' ? <SystemScreen session={session} state={live.state} status={status} /> : null}
        {route.screen === 'notifications' ? <NotificationsScreen /> : null}
      </main>
    </>
  );
};

export const App = () => {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [error, setError] = useState<{ code: string; message: string } | null>(null);
  useEffect(() => {
    resumeSession().then(setSession, (failure: unknown) => {
      setError(describeError(failure));
      setSession(null);
    });
  }, []);
  if (session === undefined) return <p class="muted loading">Loading…</p>;
  if (session === null)
    return (
      <>
        <ErrorMessage error={error} />
        <SignIn onSignedIn={setSession} />
      </>
    );
  return (
    <Console
      session={session}
      onSignOut={() => {
        void signOut(session).finally(() => setSession(null));
      }}
    />
  );
};
