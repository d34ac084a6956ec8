import type { LiveState } from '../api/types.js';

/** Two readings describe the same state: the same version (the audit id of the newest applied change). */
export const sameState = (a: LiveState | null, b: LiveState): boolean => a !== null && a.version === b.version;
