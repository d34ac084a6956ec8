import { installLeakGuard } from './leaks.js';

installLeakGuard();
