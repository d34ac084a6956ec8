#!/usr/bin/env node
await import('../dist/migrate.js');
