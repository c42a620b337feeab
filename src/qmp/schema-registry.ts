// Process-wide state of the QMP schema check: the switch, the schema cache per QEMU, and the
// violations seen (so a test harness can fail the test that sent one even if its caller caught it).
import type { Logger } from 'pino';
import { QmpCommandError } from './errors.js';
import { QmpSchema, type QmpSchemaError } from './schema-check.js';

/** Environment variable that switches the schema check on for every client (`1` or `true`). */
export const QMP_SCHEMA_CHECK_ENV = 'VMACTOR_QMP_SCHEMA_CHECK';

/**
 * Whether clients validate commands when `schemaCheck` is not given: `VMACTOR_QMP_SCHEMA_CHECK`
 * is `1` or `true` (vitest.config.ts sets it for the whole test suite).
 *
 * @example
 * ```ts
 * process.env.VMACTOR_QMP_SCHEMA_CHECK = '1';
 * qmpSchemaCheckDefault(); // true
 * ```
 */
export function qmpSchemaCheckDefault(): boolean {
  const v = process.env[QMP_SCHEMA_CHECK_ENV];
  return v === '1' || v === 'true';
}

/** Runs one command on the connection being set up, without the check (the client's own queries). */
export type QmpInternalExecute = (command: string, args?: Record<string, unknown>) => Promise<unknown>;

/** What identifies a QEMU's schema: its version, package and target (x86_64, aarch64, none). */
export interface QmpSchemaIdentity {
  readonly version: { qemu: { major: number; minor: number; micro: number }; package: string };
}

const schemas = new Map<string, Promise<QmpSchema>>();
/** Counters of this process: schema fetches, cache hits, commands checked (the client counts them). */
export const qmpSchemaCounters = { fetches: 0, hits: 0, checked: 0 };
const stats = qmpSchemaCounters;

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * The schema of the QEMU behind `exec`: `query-target` names its target (a build without it,
 * such as qemu-storage-daemon, is `none`), and `query-qmp-schema` is fetched once per
 * version + package + target in this process; concurrent connections share one fetch.
 */
export async function schemaFor(id: QmpSchemaIdentity, exec: QmpInternalExecute): Promise<QmpSchema> {
  let arch = 'none';
  try {
    const t = await exec('query-target');
    if (isRecord(t) && typeof t.arch === 'string') arch = t.arch;
  } catch (err) {
    if (!(err instanceof QmpCommandError)) throw err;
  }
  const { major, minor, micro } = id.version.qemu;
  const key = `${major}.${minor}.${micro}\u0000${id.version.package}\u0000${arch}`;
  const have = schemas.get(key);
  if (have !== undefined) {
    stats.hits++;
    return have;
  }
  stats.fetches++;
  const p = exec('query-qmp-schema').then((entries) => {
    if (!Array.isArray(entries)) throw new TypeError('query-qmp-schema did not return an array');
    return new QmpSchema(entries);
  });
  schemas.set(key, p);
  // A failed fetch is not cached: the next connection asks again.
  p.catch(() => {
    if (schemas.get(key) === p) schemas.delete(key);
  });
  return p;
}

/**
 * How often this process fetched `query-qmp-schema` vs reused a cached schema, how many schemas
 * it holds, and how many commands were checked.
 *
 * @example
 * ```ts
 * const { fetches, hits, checked } = qmpSchemaCacheStats();
 * ```
 */
export function qmpSchemaCacheStats(): { fetches: number; hits: number; cached: number; checked: number } {
  return { fetches: stats.fetches, hits: stats.hits, cached: schemas.size, checked: stats.checked };
}

const MAX_KEPT = 100;
let violations: QmpSchemaError[] = [];

/** Records a refused command (bounded) and logs it. */
export function recordQmpSchemaViolation(err: QmpSchemaError, logger: Logger | undefined): void {
  if (violations.length < MAX_KEPT) violations.push(err);
  logger?.error({ err, command: err.command, paths: err.paths }, 'QMP command refused by the schema check');
}

/**
 * Returns, and forgets, the commands refused by the schema check since the last call (at most
 * 100). The test setup fails any test after which this is not empty; a test that sends a wrong
 * command on purpose takes its own violation.
 *
 * @example
 * ```ts
 * await expect(qmp.executeUntyped('stop', { now: true })).rejects.toBeInstanceOf(QmpSchemaError);
 * expect(takeQmpSchemaViolations().map((e) => e.paths)).toEqual([['arguments.now']]);
 * ```
 */
export function takeQmpSchemaViolations(): QmpSchemaError[] {
  const out = violations;
  violations = [];
  return out;
}
