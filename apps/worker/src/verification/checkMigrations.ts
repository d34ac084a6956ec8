import type { VerificationCheck } from '@valhalla/contract';
import type { Migrator } from '@valhalla/core/migrator';
import { describeError } from './describeError.js';

/**
 * Migrations applied, unedited, none unknown, and every applied revision's verify script: the migrator's own
 * verify already returns these as named checks.
 */
export const checkMigrations = async (migrator: Migrator): Promise<VerificationCheck[]> => {
  try {
    return (await migrator.verify()).checks;
  } catch (error) {
    return [{ name: 'migrations', status: 'error', detail: describeError(error) }];
  }
};
