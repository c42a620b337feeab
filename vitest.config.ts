import { defineConfig } from 'vitest/config';

const inCI = process.env.CI === 'true' || process.env.CI === '1';

// Files that start tens of VMs at once: they run alone, after the rest, so they neither starve nor
// are starved by the other QEMU-heavy files on a 2-core machine.
const alone = ['test/integration/service-scale.test.ts', 'test/integration/shim-parallel.test.ts'];

// Real QEMU runs in many tests: keep files in forked workers (one QEMU-heavy file per core)
// and give integration tests room; deadlines inside tests are explicit, never sleeps.
// Every QMP command vmactor sends is checked against the live QEMU's `query-qmp-schema`
// (VMACTOR_QMP_SCHEMA_CHECK=1; always in CI, locally unless set to 0 explicitly), and a refused
// command fails its test (test/setup/qmp-schema.ts).
export default defineConfig({
  test: {
    exclude: ['test/bench/**', 'node_modules/**', 'dist/**'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    allowOnly: false,
    passWithNoTests: false,
    setupFiles: ['test/setup/qmp-schema.ts'],
    env: {
      VMACTOR_QMP_SCHEMA_CHECK: inCI ? '1' : (process.env.VMACTOR_QMP_SCHEMA_CHECK ?? '1'),
    },
    projects: [
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: ['test/bench/**', 'node_modules/**', 'dist/**', ...alone],
          maxWorkers: 2,
          sequence: { hooks: 'stack', groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'alone',
          include: alone,
          maxWorkers: 1,
          sequence: { hooks: 'stack', groupOrder: 1 },
        },
      },
    ],
  },
});
