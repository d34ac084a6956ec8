/*
 * Runs the workspace's turbo with its telemetry off: `npm run build` and `npm run typecheck` go through here.
 *
 * Turbo 2 sends anonymous usage data and, on every machine whose user config has not seen it yet (each CI runner,
 * container and fresh clone's HOME), prints a telemetry notice before the build output. It has no repository
 * setting for this (turbo.json has none; `turbo telemetry disable` writes the user's config), only the
 * environment variable, which an npm script cannot set portably. The Dockerfile sets the same variable.
 */
'use strict';
var childProcess = require('child_process');

var env = Object.assign({}, process.env, { TURBO_TELEMETRY_DISABLED: '1' });
var result = childProcess.spawnSync(process.execPath, [require.resolve('turbo/bin/turbo')].concat(process.argv.slice(2)), {
  stdio: 'inherit',
  env: env,
});
if (result.error) {
  process.stderr.write('could not run turbo: ' + result.error.message + '\n');
  process.exit(1);
}
// Killed by a signal (Ctrl-C reaches turbo too): exit the way a shell reports it.
if (result.status === null) process.exit(128 + (require('os').constants.signals[result.signal] || 0));
process.exit(result.status);
