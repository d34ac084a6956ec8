/**
 * The part of the env module the operator CLI needs at startup, without zod or the other sections: `npx valhalla`
 * answers in well under a second (`@valhalla/core/env/cli`). Its migrate command loads the rest when it runs.
 */
export { cliVariables, devVariables } from './dev.js';
export { exitOnConfigError } from './exitOnConfigError.js';
export { processEnvironment } from './processEnvironment.js';
export { parseVariables } from './variable.js';
