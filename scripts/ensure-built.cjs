/*
 * Builds the workspaces when their dist/ is missing or older than their sources, so that `npm run migrate` and
 * `npx valhalla` work right after `npm ci` (no `prepare` build: that would also run in the Dockerfile's production
 * install, where TypeScript is not installed). Build output goes to stderr so a command's stdout (e.g. --json)
 * stays clean. Plain CommonJS, like check-node.cjs, which runs before it.
 */
'use strict';
var fs = require('fs');
var path = require('path');
var childProcess = require('child_process');

var root = path.resolve(__dirname, '..');
/** Each workspace: the files its consumers run, and tsc -b's build info (rewritten on every rebuild). */
var WORKSPACES = [
  { dir: 'packages/contract', outputs: ['dist/index.js', 'dist/failureCodes.js'] },
  { dir: 'packages/core', outputs: ['dist/index.js', 'dist/migrator/index.js'] },
  { dir: 'apps/api', outputs: ['dist/main.js'] },
  { dir: 'apps/worker', outputs: ['dist/main.js'] },
  { dir: 'apps/cli', outputs: ['dist/valhalla.js', 'dist/migrate.js', 'dist/dev.js'] },
];

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch (error) {
    return -1;
  }
}

function newestSource(dir) {
  var newest = mtime(path.join(dir, 'tsconfig.json'));
  var stack = [path.join(dir, 'src')];
  while (stack.length > 0) {
    var current = stack.pop();
    var entries;
    try {
      entries = fs.readdirSync(current, { withFileTypes: true });
    } catch (error) {
      continue;
    }
    for (var i = 0; i < entries.length; i++) {
      var full = path.join(current, entries[i].name);
      if (entries[i].isDirectory()) stack.push(full);
      // Tests are excluded from every build (tsconfig "exclude"): editing one must not look like a stale build.
      else if (!/\.test\.ts$/.test(entries[i].name)) newest = Math.max(newest, mtime(full));
    }
  }
  return newest;
}

function staleReason() {
  for (var i = 0; i < WORKSPACES.length; i++) {
    var workspace = WORKSPACES[i];
    var dir = path.join(root, workspace.dir);
    for (var j = 0; j < workspace.outputs.length; j++) {
      if (mtime(path.join(dir, workspace.outputs[j])) < 0) return workspace.dir + '/' + workspace.outputs[j] + ' is missing';
    }
    if (newestSource(dir) > mtime(path.join(dir, 'tsconfig.tsbuildinfo'))) return workspace.dir + ' changed since its last build';
  }
  return undefined;
}

var reason = staleReason();
if (reason !== undefined) {
  process.stderr.write('Building first (' + reason + '): npm run build\n');
  var result = childProcess.spawnSync('npm', ['run', 'build', '--silent'], {
    cwd: root,
    stdio: ['ignore', 2, 2],
    shell: process.platform === 'win32',
  });
  if (result.status !== 0) {
    process.stderr.write('The build failed (exit ' + String(result.status) + '); see the output above.\n');
    process.exit(1);
  }
}
