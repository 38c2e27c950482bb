// ESLint flat config: typescript-eslint with type information, so the rules that catch this code
// base's real defects can run: promises nobody awaits or catches (a rejected engine request would
// vanish), promises passed where VS Code expects a plain callback, unused code, and switches over
// the protocol's message kinds that forget a kind. Formatting is Prettier's job (.prettierrc.json).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'samples/',
      '**/*.cjs',
      'node_modules/',
      'dist/',
      'out/',
      'media/dist/',
      '.e2e-tools/',
      'test-results/',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        // Each file is checked with the tsconfig that builds it (webview/ has the DOM's).
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // node:test's test()/describe() return promises that its runner tracks itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // tsc's strict mode already rejects implicit any; explicit `any` at a boundary is named in a comment.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
