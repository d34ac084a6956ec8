import type { Command } from '../command.js';
import { auditCommand } from './audit.js';
import { approveCommand, cancelCommand, rejectCommand, requestsCommand } from './changeRequests.js';
import { goLiveCommand } from './goLive.js';
import { jobsCommand } from './jobs.js';
import { killSwitchCommand } from './killSwitch.js';
import { metadataCommand } from './metadata.js';
import { migrateCommand } from './migrate.js';
import { notificationsCommand } from './notifications.js';
import { retryCommand } from './retry.js';
import { statusCommand } from './status.js';
import { tokenCommand } from './token.js';
import { verificationsCommand } from './verifications.js';
import { verifyCommand } from './verify.js';

/** Every command, in the order the usage lists them. */
export const COMMANDS: readonly Command[] = [
  statusCommand,
  goLiveCommand,
  killSwitchCommand,
  metadataCommand,
  verifyCommand,
  auditCommand,
  verificationsCommand,
  jobsCommand,
  retryCommand,
  requestsCommand,
  approveCommand,
  rejectCommand,
  cancelCommand,
  notificationsCommand,
  tokenCommand,
  migrateCommand,
];
