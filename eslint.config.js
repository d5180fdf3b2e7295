import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'web/dist/**', 'bench/.work/**'] },
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
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:fs', 'node:fs/*', 'node:net', 'node:http', '../*'], message: 'core holds no I/O and depends on nothing.' }] }],
    },
  },
);
