// Two projects: `unit` needs nothing running; `integration` (contract, e2e and browser) gets the offline stack
// (Azurite, identity, Key Vault, TomTom simulator) from a global setup that runs before the forked
// workers start, so they inherit its environment (NODE_EXTRA_CA_CERTS in particular).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', ['json', { outputFile: '.local/test-results.json' }]],
    // A worker or hook that will not stop must not hold the run open: bounded teardown.
    teardownTimeout: 30_000,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          pool: 'forks',
          // Property tests run thousands of cases; on two shared cores 5 s is too tight to mean "stuck".
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/contract/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/browser/**/*.test.ts'],
          // Compile once (child-process tests run dist/), then start the offline stack.
          globalSetup: ['test/setup/build.ts', 'test/setup/stack.ts'],
          pool: 'forks',
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
