import { installLeakGuard } from './leaks.js';
import { installQueuePrefixCleanup } from './redis.js';

// Order matters: after-hooks run in reverse, so the keys are deleted after the leak guard stopped what writes them.
installQueuePrefixCleanup();
installLeakGuard();
