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
