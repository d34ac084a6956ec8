/*
 * Node version guard, run first by every entry command (npm run dev / test / migrate / bench, npx valhalla).
 *
 * Written in plain ES5 CommonJS on purpose: it must run, and say something useful, on the old Node it rejects.
 * The required major comes from package.json "engines" (one source of truth). Node 24 is needed because slonik and
 * @slonik/pg-driver declare node >=24 (they use Promise.withResolvers, which Node 20 lacks); Node 22 is not
 * supported for the same reason.
 */
'use strict';
var fs = require('fs');
var path = require('path');

var root = path.resolve(__dirname, '..');

function requiredMajor() {
  try {
    var pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    var match = /(\d+)/.exec((pkg.engines && pkg.engines.node) || '');
    if (match) return Number(match[1]);
  } catch (error) {
    // Fall through to the default below: the guard must never fail for its own reasons.
  }
  return 24;
}

function nodePackageName() {
  var platform = { linux: 'linux', darwin: 'darwin', win32: 'win' }[process.platform] || process.platform;
  return 'node-' + platform + '-' + process.arch;
}

function message(found, needed) {
  var pkg = nodePackageName();
  var home = process.platform === 'win32' ? '%USERPROFILE%' : '~';
  var binDir = home + '/.node' + needed + '/node_modules/' + pkg + '/bin';
  return [
    '',
    'Valhalla needs Node.js ' + needed + ' or newer; this is Node ' + found + ' (' + process.execPath + ').',
    'Its database library (slonik) requires Node ' + needed + '. Get it with one of:',
    '',
    '  nvm install ' + needed + ' && nvm use ' + needed + '      # nvm (the project has an .nvmrc)',
    '  fnm install ' + needed + ' && fnm use ' + needed + '      # fnm',
    '  volta install node@' + needed + '                 # volta',
    '  npm install --prefix ' + home + '/.node' + needed + ' ' + pkg + '@' + needed + ' && export PATH="' + binDir.replace('~', '$HOME') + ':$PATH"',
    '                                          # npm only, no version manager',
    '',
    'To keep Node ' + needed + ' in new terminals: nvm alias default ' + needed + ' (nvm), fnm default ' + needed + ' (fnm), or add',
    'the export PATH line above to ~/.bashrc or ~/.zshrc (npm only). volta pins it by itself.',
    '',
    'Then, in this folder: node --version (must print v' + needed + '.x or newer), npm ci, and run the command again.',
    ''
  ].join('\n');
}

var needed = requiredMajor();
var found = process.versions.node;
if (Number(found.split('.')[0]) < needed) {
  process.stderr.write(message(found, needed) + '\n');
  process.exit(1);
}
