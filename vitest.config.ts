import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests import the sources; production runs the built dist/ through the package exports.
    alias: [
      { find: /^@valhalla\/core\/migrator$/, replacement: src('./packages/core/src/migrator/index.ts') },
      { find: /^@valhalla\/core\/notifications$/, replacement: src('./packages/core/src/notifications/index.ts') },
      { find: /^@valhalla\/core$/, replacement: src('./packages/core/src/index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
    globalSetup: ['./test/helpers/globalSetup.ts'],
    setupFiles: ['./test/helpers/setupFile.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: files run two at a time; each has its own database and queue prefix.
    maxWorkers: 2,
    fileParallelism: true,
    pool: 'forks',
    // The JSON report lets .ci/run print the plain 'N passed, N failed' line that CI reads.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
