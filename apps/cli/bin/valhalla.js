#!/usr/bin/env node
// Checked-in shim so the bin exists (and is executable) before the first build; the CLI itself is built TypeScript.
await import('../dist/valhalla.js');
