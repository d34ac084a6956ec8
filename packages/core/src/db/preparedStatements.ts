/**
 * The statements every governance change runs, prepared by name on each pooled connection: PostgreSQL parses,
 * analyses and plans each of them once per connection instead of once per execution (the write statement's CTEs
 * took more planning than executing). Each name belongs to exactly one statement text (node-postgres refuses a name
 * reused for another text), so a statement whose text varies has one name per variant. PostgreSQL re-plans a prepared
 * statement when the tables and functions it uses change, but refuses to run one whose result columns changed type
 * ("cached plan must not change result type") on every connection that prepared it: a revision changes what these
 * statements read by adding a new version of a function (as governance_change_context_v2 did), never by changing one
 * in place. A PgBouncer in front must run in
 * session mode, as the live listener and the migrator already require (docs/scaling.md). Measured in bench/RESULTS.md.
 */
export const PREPARED_STATEMENTS = {
  /** acceptJobs: the api's group commit of acceptances. */
  acceptJobs: 'valhalla_accept_jobs',
  /** lockChangeContext: a batch's lock of row 1 and its reads. */
  lockChangeContext: 'valhalla_lock_change_context',
  /** commitChanges without, and with, idempotency keys to claim. */
  commitChanges: 'valhalla_commit_changes',
  commitChangesWithClaims: 'valhalla_commit_changes_claims',
} as const;
