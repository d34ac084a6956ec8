#!/usr/bin/env node
// Checked-in shim so the bin exists before the first build. The Node guard runs first (plain CommonJS, so it can
// speak on an old Node), then the workspaces are built if dist/ is missing or stale, then the built CLI runs.
import '../../../scripts/check-node.cjs';
import '../../../scripts/ensure-built.cjs';

await import('../dist/valhalla.js');
