import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/.work/**', 'test-results/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // Dependency direction (ARCHITECTURE.md): services never import Fastify; only routes.ts and server/ do.
    files: ['src/**/*.ts'],
    ignores: ['src/server/**', 'src/**/*routes.ts', 'src/**/routes/**', 'src/**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['fastify', '@fastify/*'], message: 'Only route files (*routes.ts, routes/) and src/server may import Fastify.' }] }],
    },
  },
  {
    // The studio: hooks rules, and the server only through the typed client (and core's pure helpers).
    files: ['ui/src/**/*.{ts,tsx}'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(\\.\\./)+src/(?!client/index\\.js$|core/downsample\\.js$)', message: 'The studio reaches the server only through src/client (index.js); core/downsample.js is shared pure code.' }] }],
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:fs', 'node:fs/*', 'node:net', 'node:http', '../*'], message: 'core holds no I/O and depends on nothing.' }] }],
    },
  },
);
