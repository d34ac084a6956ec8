import { optional, text } from './variable.js';

/** Variables of `npm run dev` and of the operator CLI (`npx valhalla`), besides the shared ones they pass on. */
export const devVariables = {
  VALHALLA_DEV_DIR: optional({
    ...text(),
    type: 'path',
    defaultText: '.dev/ at the repository root',
    readBy: ['dev', 'migrate', 'cli'],
    doc: "npm run dev's state folder (embedded PostgreSQL, dev token, session file); the CLI and migrate find a running dev there.",
  }),
  VALHALLA_DEV_SUPERVISED: optional({
    ...text(),
    readBy: ['dev'],
    doc: 'Internal: set by npm run dev on the process it supervises in a process group of its own.',
  }),
} as const;

/** Variables of the operator CLI (`npx valhalla`). */
export const cliVariables = {
  VALHALLA_API_URL: optional({
    ...text(),
    type: 'URL',
    defaultText: "the running npm run dev's api, else http://127.0.0.1:3000",
    readBy: ['cli'],
    doc: 'The api the CLI talks to.',
  }),
  VALHALLA_TOKEN: optional({
    ...text(),
    type: 'token, or actor:token',
    defaultText: "the running npm run dev's token",
    readBy: ['cli'],
    doc: 'The bearer token the CLI sends (the actor: part of a GOVERNANCE_TOKENS entry is dropped).',
  }),
} as const;

/** Set for the platform; no process of ours parses them. */
export const platformVariables = {
  NODE_VERSION: optional({
    ...text(),
    readBy: ['render'],
    doc: "Render's build: the Node.js major version to install (24).",
  }),
} as const;
