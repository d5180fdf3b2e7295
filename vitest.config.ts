import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: { name: 'unit', include: ['src/**/*.test.ts'], environment: 'node' },
      },
      {
        // The studio's components in a simulated DOM (the browser itself is the e2e suite's).
        plugins: [react()],
        test: { name: 'ui', include: ['ui/src/**/*.test.{ts,tsx}'], environment: 'happy-dom' },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          // One server per suite, shared by its tests; suites run one at a time on 2 cores.
          fileParallelism: false,
        },
      },
    ],
  },
});
