// The client's side of the live schema check: a verdict per command before it is written, and
// writes held in order behind a `device_add` whose driver's qdev properties are still loading.
import type { Logger } from 'pino';
import type { DevicePropertyLister, QmpSchema, QmpSchemaError } from './schema-check.js';
import { qmpSchemaCounters, recordQmpSchemaViolation } from './schema-registry.js';

/** A verdict now (`undefined`: valid), or once a `device_add` driver's properties are loaded. */
export type SchemaVerdict = QmpSchemaError | Promise<QmpSchemaError | undefined> | undefined;

/** Checks every command of one connection against its QEMU's schema. */
export class SchemaGate {
  private held = 0;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    /** The schema of the QEMU behind the connection. */
    readonly schema: QmpSchema,
    private readonly list: DevicePropertyLister,
    private readonly logger: Logger | undefined,
  ) {}

  /** True while some write waits for a verdict: later writes must queue behind it. */
  get holding(): boolean {
    return this.held > 0;
  }

  /** The verdict on `cmd(args)`; a violation is recorded (and logged) when it is known. */
  admit(cmd: string, args: Record<string, unknown> | undefined): SchemaVerdict {
    qmpSchemaCounters.checked++;
    const schema = this.schema;
    const driver = schema.unloadedDriver(cmd, args);
    if (driver === undefined) return this.verdict(cmd, args);
    return schema.loadDriver(driver, this.list).then(() => this.verdict(cmd, args));
  }

  /**
   * Runs `write` once `verdict` is in and every write held before it has run, unless the command
   * is gone by then (`alive()` false: timed out, aborted, closed); a violation goes to `refuse`.
   */
  later(
    verdict: Promise<QmpSchemaError | undefined> | undefined,
    alive: () => boolean,
    write: () => void,
    refuse: (err: QmpSchemaError) => void,
  ): void {
    this.held++;
    this.tail = this.tail.then(async () => {
      try {
        const err = verdict === undefined ? undefined : await verdict;
        if (!alive()) return;
        if (err === undefined) write();
        else refuse(err);
      } finally {
        this.held--;
      }
    });
  }

  private verdict(cmd: string, args: Record<string, unknown> | undefined): QmpSchemaError | undefined {
    const err = this.schema.validate(cmd, args);
    if (err !== undefined) recordQmpSchemaViolation(err, this.logger);
    return err;
  }
}
