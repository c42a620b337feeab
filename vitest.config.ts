import { defineConfig } from 'vitest/config';

// Real QEMU runs in many tests: keep files in forked workers (one QEMU-heavy file per core)
// and give integration tests room; deadlines inside tests are explicit, never sleeps.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/bench/**', 'node_modules/**', 'dist/**'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    allowOnly: false,
    passWithNoTests: false,
  },
});
