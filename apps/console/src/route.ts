import { useEffect, useState } from 'preact/hooks';

export const SCREENS = {
  overview: 'Overview',
  audit: 'Audit log',
  verifications: 'Verifications',
  system: 'Migrations, workers, queues',
  notifications: 'Notifications',
} as const;
export type Screen = keyof typeof SCREENS;

export type Route = { screen: Screen; params: URLSearchParams };

/** `#/audit?actor=alice` → audit screen with its filter. Hash routes need no server-side fallback. */
const parseRoute = (hash: string): Route => {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  const screen = (Object.keys(SCREENS) as Screen[]).find((name) => name === path) ?? 'overview';
  return { screen, params: new URLSearchParams(query) };
};

export const useRoute = (): Route => {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
};
