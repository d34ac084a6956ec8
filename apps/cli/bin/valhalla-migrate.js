#!/usr/bin/env node
// Same order as bin/valhalla.js: Node guard, build on demand, then the migrator.
import '../../../scripts/check-node.cjs';
import '../../../scripts/ensure-built.cjs';

await import('../dist/migrate.js');
