// Validates QMP commands against the live QAPI schema of the QEMU they are sent to.
import { VmactorError } from '../errors/vmactor-error.js';
import type { QmpClient } from './client.js';
import type { QmpSchemaInfo } from './commands.js';
import {
  CheckContext,
  describeValue,
  type ObjectNode,
  type QmpSchemaProblem,
  SchemaCompiler,
} from './schema-compile.js';

export type { QmpSchemaProblem } from './schema-compile.js';

/** A command does not match the QAPI schema of the QEMU it is sent to; it was not sent. */
export class QmpSchemaError extends VmactorError {
  override readonly name = 'QmpSchemaError' as const;
  readonly code = 'ERR_QMP_SCHEMA' as const;
  /** The refused command, e.g. `blockdev-add`. */
  readonly command: string;
  /** Every mismatch, each with the path of the bad member (e.g. `arguments.file.aio`). */
  readonly problems: readonly QmpSchemaProblem[];

  constructor(command: string, problems: readonly QmpSchemaProblem[]) {
    super(
      `QMP command \`${command}\` does not match QEMU's schema: ${problems.map(formatProblem).join('; ')}`,
    );
    this.command = command;
    this.problems = problems;
  }

  /** Paths of the bad members, e.g. `['arguments.file.aio']`. */
  get paths(): string[] {
    return this.problems.map((p) => p.path);
  }
}

/** One qdev property of a device driver, from `device-list-properties`. */
export interface QmpDeviceProperty {
  name: string;
  type: string;
}

/** Lists a driver's qdev properties (`device-list-properties`). */
export type DevicePropertyLister = (driver: string) => Promise<readonly QmpDeviceProperty[]>;

function formatProblem(p: QmpSchemaProblem): string {
  return `${p.path}: ${p.message}`;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function hasDeprecated(x: unknown): boolean {
  return Array.isArray(x) && x.includes('deprecated');
}

interface CommandPlan {
  readonly args: ObjectNode;
  readonly deprecated: boolean;
  /** device_add: QAPI lists driver/bus/id only (`gen: false`); the rest are qdev properties. */
  readonly qdev: boolean;
}

type PropKind = 'bool' | 'int' | 'str' | 'devfn' | 'any';

const INT_PROP = /^(u?int(8|16|32|64)|size|int)$/;
const STR_PROP = /^(str|string|drive|netdev|chr|macaddr|link<.*>)$/;
const DEVFN = /^(0x)?[0-9a-f]{1,2}(\.[0-7])?$/i;
const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({});

function propKind(name: string, type: string): PropKind {
  if (name === 'addr' && (type === 'int32' || type === 'pci-devfn')) return 'devfn';
  if (type === 'bool') return 'bool';
  if (INT_PROP.test(type)) return 'int';
  // QAPI enums (OnOffAuto, LostTickPolicy, ...) are set from JSON strings too.
  if (STR_PROP.test(type) || /^[A-Z][A-Za-z0-9]*$/.test(type)) return 'str';
  return 'any';
}

/**
 * The QAPI schema of one running QEMU (`query-qmp-schema`), compiled once per command: unknown
 * commands or members, missing required members, wrong JSON types and integer ranges, enum
 * values, alternates, flat unions with their discriminator (e.g. `blockdev-add`'s
 * `BlockdevOptions` down to its nested `file`), and deprecated commands, members or values are
 * all reported, libvirt-style. `device_add` is `gen: false` in QAPI (its qdev properties are not
 * in the schema), so its other members are checked against `device-list-properties` of the
 * driver once that driver was loaded; a driver QEMU does not list is left to QEMU to refuse.
 *
 * @example
 * ```ts
 * const schema = await QmpSchema.fetch(qmp);
 * await schema.loadDeviceProperties(qmp, ['virtio-blk-pci']);
 * schema.assertValid('blockdev-add', { driver: 'raw', 'node-name': 'd0', file: { driver: 'file', filename: '/x' } });
 * schema.check('balloon', { value: '1' }); // ['arguments.value: expected int, got string']
 * ```
 */
export class QmpSchema {
  private readonly byName = new Map<string, QmpSchemaInfo>();
  private readonly compiler: SchemaCompiler;
  private readonly plans = new Map<string, CommandPlan | null>();
  private readonly deviceProps = new Map<string, ReadonlyMap<string, PropKind> | null>();
  private readonly loading = new Map<string, Promise<void>>();
  private readonly ctx = new CheckContext();

  constructor(entries: readonly QmpSchemaInfo[]) {
    for (const e of entries) this.byName.set(e.name, e);
    this.compiler = new SchemaCompiler(this.byName);
  }

  /** Reads the schema from a connected QEMU. */
  static async fetch(client: QmpClient): Promise<QmpSchema> {
    return new QmpSchema(await client.execute('query-qmp-schema'));
  }

  /** Names of every command this QEMU accepts. */
  get commands(): string[] {
    return [...this.byName.values()].filter((e) => e['meta-type'] === 'command').map((e) => e.name);
  }

  /** Loads the qdev properties of device drivers (for `device_add` checks), once per driver. */
  async loadDeviceProperties(client: QmpClient, drivers: Iterable<string>): Promise<void> {
    const list: DevicePropertyLister = (typename) => client.execute('device-list-properties', { typename });
    await Promise.all([...new Set(drivers)].map((d) => this.loadDriver(d, list)));
  }

  /**
   * Loads one driver's properties through `list` (concurrent callers share one request). A driver
   * QEMU refuses to list is remembered as unknown; a lost connection is not remembered.
   */
  loadDriver(driver: string, list: DevicePropertyLister): Promise<void> {
    if (this.deviceProps.has(driver)) return Promise.resolve();
    let p = this.loading.get(driver);
    if (p === undefined) {
      p = list(driver).then(
        (props) => {
          this.deviceProps.set(driver, new Map(props.map((x) => [x.name, propKind(x.name, x.type)])));
        },
        (err: unknown) => {
          if (isRecord(err) && err.code === 'ERR_QMP_COMMAND') this.deviceProps.set(driver, null);
        },
      );
      p = p.finally(() => this.loading.delete(driver));
      this.loading.set(driver, p);
    }
    return p;
  }

  /** The `device_add` driver whose qdev properties are not loaded yet, if any. */
  unloadedDriver(command: string, args: Record<string, unknown> | undefined): string | undefined {
    if (command !== 'device_add') return undefined;
    const d = args?.driver;
    return typeof d === 'string' && !this.deviceProps.has(d) ? d : undefined;
  }

  /** Every mismatch of `command(args)`, or `undefined` when it is valid (the per-command hot path). */
  problems(command: string, args: Record<string, unknown> | undefined): QmpSchemaProblem[] | undefined {
    const plan = this.plan(command);
    if (plan === null) return [{ path: 'execute', message: `unknown command \`${command}\`` }];
    const ctx = this.ctx;
    ctx.reset();
    const value = args ?? EMPTY;
    if (plan.qdev) {
      plan.args.checkObject(value, ctx, true);
      this.checkDeviceProps(value, ctx);
    } else {
      plan.args.check(value, ctx);
    }
    const found = ctx.problems;
    ctx.reset();
    if (!plan.deprecated) return found;
    return [{ path: 'execute', message: `command \`${command}\` is deprecated` }, ...(found ?? [])];
  }

  /** The {@link QmpSchemaError} `command(args)` would be refused with, or `undefined`. */
  validate(command: string, args: Record<string, unknown> | undefined): QmpSchemaError | undefined {
    const found = this.problems(command, args);
    return found === undefined ? undefined : new QmpSchemaError(command, found);
  }

  /** Every mismatch as `path: message` lines; empty when `command(args)` is valid. */
  check(command: string, args: Record<string, unknown> | undefined): string[] {
    return (this.problems(command, args) ?? []).map(formatProblem);
  }

  /** Throws {@link QmpSchemaError} when `command(args)` does not match the schema. */
  assertValid(command: string, args: Record<string, unknown> | undefined): void {
    const err = this.validate(command, args);
    if (err) throw err;
  }

  private plan(command: string): CommandPlan | null {
    const have = this.plans.get(command);
    if (have !== undefined) return have;
    const cmd = this.byName.get(command) as Record<string, unknown> | undefined;
    let plan: CommandPlan | null = null;
    if (cmd?.['meta-type'] === 'command') {
      const argType = typeof cmd['arg-type'] === 'string' ? cmd['arg-type'] : '';
      plan = {
        args: this.compiler.object(argType),
        deprecated: hasDeprecated(cmd.features),
        qdev: command === 'device_add',
      };
    }
    if (plan !== null || this.plans.size < 1024) this.plans.set(command, plan);
    return plan;
  }

  private checkDeviceProps(args: Record<string, unknown>, ctx: CheckContext): void {
    const driver = args.driver;
    if (typeof driver !== 'string') return;
    const props = this.deviceProps.get(driver);
    if (props === undefined || props === null) return; // not loaded, or QEMU refuses the driver itself
    for (const key in args) {
      const v = args[key];
      if (key === 'driver' || key === 'id' || key === 'bus' || v === undefined) continue;
      const kind = props.get(key);
      ctx.push(key);
      if (kind === undefined) ctx.report(`\`${driver}\` has no property \`${key}\``);
      else if (kind === 'bool' && typeof v !== 'boolean')
        ctx.report(`expected bool, got ${describeValue(v)}`);
      else if (kind === 'int' && !(typeof v === 'number' && Number.isInteger(v)))
        ctx.report(`expected an integer, got ${describeValue(v)}`);
      else if (kind === 'str' && typeof v !== 'string') ctx.report(`expected str, got ${describeValue(v)}`);
      else if (kind === 'devfn' && typeof v === 'string' && !DEVFN.test(v))
        ctx.report(`\`${v}\` is not slot[.fn]`);
      else if (kind === 'devfn' && typeof v !== 'string' && !(typeof v === 'number' && Number.isInteger(v)))
        ctx.report(`expected slot[.fn] or an integer, got ${describeValue(v)}`);
      ctx.pop();
    }
  }
}
