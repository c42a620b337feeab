// Test setup: every QMP command vmactor sends in the suite is checked against the live
// `query-qmp-schema` of its QEMU (vitest.config.ts sets VMACTOR_QMP_SCHEMA_CHECK=1). A refused
// command fails the test that sent it, even when the code that sent it caught the error.
import { appendFileSync } from 'node:fs';
import { afterAll, afterEach, expect } from 'vitest';
import {
  QMP_SCHEMA_CHECK_ENV,
  qmpSchemaCacheStats,
  qmpSchemaCheckDefault,
  takeQmpSchemaViolations,
} from '../../src/qmp/index.js';

const inCI = process.env.CI === 'true' || process.env.CI === '1';
if (inCI && !qmpSchemaCheckDefault()) {
  throw new Error(
    `CI runs every test with ${QMP_SCHEMA_CHECK_ENV}=1 (set by vitest.config.ts); it is off here`,
  );
}

function failOnViolations(where: string): void {
  const found = takeQmpSchemaViolations();
  if (found.length === 0) return;
  const lines = found.map((e) => `  - ${e.message}`).join('\n');
  throw new Error(
    `${found.length} QMP command(s) refused by the live schema check during ${where}:\n${lines}`,
  );
}

// Registered first, so (hooks run as a stack) these run after the test file's own cleanup hooks.
afterEach(() => failOnViolations('this test'));
afterAll(() => failOnViolations("this file's hooks"));

// VMACTOR_QMP_SCHEMA_REPORT=<file>: one JSON line per test file with what was fetched and checked.
const report = process.env.VMACTOR_QMP_SCHEMA_REPORT;
if (report) {
  afterAll(() => {
    const line = {
      file: expect.getState().testPath,
      enabled: qmpSchemaCheckDefault(),
      ...qmpSchemaCacheStats(),
    };
    appendFileSync(report, `${JSON.stringify(line)}\n`);
  });
}
