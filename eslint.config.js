// ESLint: typescript-eslint's type-checked recommended rules over the sources, tests and benchmarks.
// The adjustments below are the few places where the recommended set disagrees with how this codebase is written on
// purpose; each says why. Formatting is not linted (no stylistic rules): reformatting would only churn merges.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', '.dev/**', 'coverage/**', 'test-results/**', '**/*.d.ts'],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Explicit projects (not the project service): one program per tsconfig, built once, is what keeps a full
        // run well under a minute on two cores.
        project: [
          'packages/*/tsconfig.json',
          'apps/*/tsconfig.json',
          'test/tsconfig.json',
          'bench/tsconfig.json',
        ],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `_name` marks a value that is deliberately unused (a destructured field left out, a required parameter).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // Fastify plugins and routes, and interfaces such as `close(): Promise<void>`, are async by contract even
      // when a given implementation has nothing to await.
      '@typescript-eslint/require-await': 'off',
      // Numbers and booleans in template literals are how messages are written here; objects still are caught.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
    },
  },
  {
    // One definition per setting: every environment variable is defined in packages/core/src/config/env/ (type,
    // default, which process reads it, one doc line; docs/configuration.md is generated from it), and entrypoints
    // parse it there. Nothing else reads process.env; packages take options.
    files: ['**/*.{ts,tsx,js,mjs,cjs}'],
    ignores: [
      // The one reader: entrypoints take the environment from it and hand it to the parsers.
      'packages/core/src/config/env/processEnvironment.ts',
      // Tests and benchmarks build the environment of the processes they start.
      'test/**',
      '**/*.test.ts',
      'bench/**',
      // Repository tooling (the Node guard, the preflight, the turbo wrapper) runs before anything is built.
      'scripts/**',
      // Stand-alone example programs for users, not part of the product.
      'docs/examples/**',
    ],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Define the variable in packages/core/src/config/env/ and parse it at the entrypoint (processEnvironment()); pass the value down as an option.',
        },
      ],
    },
  },
  {
    // Explicit export lists (as slonik's src/index.ts): `export *` makes internals public and hides dead code from
    // knip, which counts every re-exported name as used.
    files: ['packages/*/src/**/*.ts', 'apps/*/src/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-syntax': ['error', { selector: 'ExportAllDeclaration', message: 'List what a module re-exports: export { a, type B } from ...' }],
    },
  },
  {
    // Tests read parsed HTTP responses and YAML documents (`any` by nature) and assert their shape with expect();
    // typing each one first would add casts, not safety.
    files: ['test/**/*.ts', '**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Plain JavaScript (bin wrappers, the Node guard, this file): no type information to check against.
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly' } },
  },
  {
    // The Node guard and the build-on-demand script are CommonJS so that they run on any Node.
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
