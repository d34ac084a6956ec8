import { apiVariables } from './api.js';
import { cliVariables, devVariables, platformVariables } from './dev.js';
import { migrateVariables } from './migrate.js';
import { sharedVariables } from './shared.js';
import type { Variables } from './variable.js';
import { workerVariables } from './worker.js';

export type EnvSection = { readonly title: string; readonly about: string; readonly variables: Variables };

/**
 * Every variable of the product, once, in the order of the configuration reference (docs/configuration.md is
 * generated from this list). Each entrypoint parses the sections it needs: the api and the worker the first three
 * (one Config), the migrate command shared and migrate, npm run dev and the CLI theirs.
 */
export const ENV_SECTIONS: readonly EnvSection[] = [
  {
    title: 'Shared',
    about: 'Read by more than one process. Set them alike on the api and the worker (on Render, the Blueprint does).',
    variables: sharedVariables,
  },
  { title: 'API', about: 'Read by the api (the worker checks them as well, so a bad value stops both).', variables: apiVariables },
  { title: 'Worker', about: 'Read by the worker (the api checks them as well).', variables: workerVariables },
  { title: 'Migrate', about: 'Read by the migrate command, at deploy time and by hand.', variables: migrateVariables },
  { title: 'npm run dev', about: 'Read by the local development command; it passes the others on to the api and worker it starts.', variables: devVariables },
  { title: 'CLI', about: 'Read by the operator CLI, npx valhalla.', variables: cliVariables },
  { title: 'Platform', about: 'Set for Render; no process of ours reads them.', variables: platformVariables },
];
