/**
 * Roles: what a credential may do. Each role has the environment variable its `actor:token` pairs come from.
 * - operator: everything under /api (GOVERNANCE_TOKENS).
 * - reader: every GET under /api, the live endpoint and the stream; no writes (READER_TOKENS).
 * - app: only the live endpoint and the stream, for applications (APP_TOKENS).
 * - alerts: only the Alertmanager webhook, which can only make things safer (ALERT_TOKENS).
 */
export const ROLES = { operator: 'operator', reader: 'reader', app: 'app', alerts: 'alerts' } as const;
export type Role = (typeof ROLES)[keyof typeof ROLES];

export const ROLE_TOKEN_VARIABLES = {
  operator: 'GOVERNANCE_TOKENS',
  reader: 'READER_TOKENS',
  app: 'APP_TOKENS',
  alerts: 'ALERT_TOKENS',
} as const satisfies Record<Role, string>;

/** One credential: the actor it authenticates as, its bearer token and its role. */
export type RoleToken = { readonly actor: string; readonly token: string; readonly role: Role };
