// Writes docs/configuration.md from the one definition of every environment variable (packages/core/src/config/env/).
// Run through `npm run docs:config`, which builds first: this imports the built module. test/docs/configuration.test.ts
// fails when the committed file differs from what this writes.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderConfigurationReference } from '@valhalla/core/env';

const target = join(import.meta.dirname, '..', 'docs', 'configuration.md');
writeFileSync(target, renderConfigurationReference());
process.stdout.write(`wrote ${target}\n`);
