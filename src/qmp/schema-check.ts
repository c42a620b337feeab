import { VmactorError } from '../errors/vmactor-error.js';
import type { QmpClient } from './client.js';
import type { QmpSchemaInfo } from './commands.js';

/** A command does not match the schema of the QEMU it is sent to. */
export class QmpSchemaMismatchError extends VmactorError {
  override readonly name = 'QmpSchemaMismatchError' as const;
  readonly code = 'ERR_QMP_SCHEMA_MISMATCH' as const;
  /** Every mismatch found, e.g. ``arguments.file.filename: expected str, got number``. */
  readonly problems: readonly string[];

  constructor(command: string, problems: readonly string[]) {
    super(`QMP command \`${command}\` does not match QEMU's schema: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

/** One qdev property of a device driver, from `device-list-properties`. */
export interface QmpDeviceProperty {
  name: string;
  type: string;
}

interface Member {
  name: string;
  type: string;
  optional: boolean;
  deprecated: boolean;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function str(x: unknown): string {
  return typeof x === 'string' ? x : '';
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'number' && !Number.isInteger(v) ? 'non-integer number' : typeof v;
}

function hasDeprecated(x: unknown): boolean {
  return Array.isArray(x) && x.includes('deprecated');
}

const INT_PROP = /^(u?int(8|16|32|64)|size|int)$/;

/**
 * The QAPI schema of one running QEMU (`query-qmp-schema`), used to validate the commands
 * vmactor sends, libvirt-style: unknown commands or members, missing required members, wrong
 * JSON types (integers must be numbers, booleans booleans), enum values, union variants,
 * and use of deprecated commands or members are all reported. `device_add` is `gen: false` in
 * QAPI (its qdev properties are not in the schema), so its extra properties are checked against
 * `device-list-properties` of the driver when that driver's properties were loaded.
 *
 * @example
 * ```ts
 * const schema = await QmpSchema.fetch(qmp);
 * await schema.loadDeviceProperties(qmp, ['virtio-blk-pci']);
 * schema.assertValid('blockdev-add', { driver: 'raw', 'node-name': 'd0', file: { driver: 'file', filename: '/x' } });
 * const checkedClient = await QmpClient.connect(sock, { commandValidator: (c, a) => schema.assertValid(c, a) });
 * ```
 */
export class QmpSchema {
  private readonly byName = new Map<string, Record<string, unknown>>();
  private readonly deviceProps = new Map<string, Map<string, string> | null>();

  constructor(entries: readonly QmpSchemaInfo[]) {
    for (const e of entries) this.byName.set(e.name, e);
  }

  /** Reads the schema from a connected QEMU. */
  static async fetch(client: QmpClient): Promise<QmpSchema> {
    return new QmpSchema(await client.execute('query-qmp-schema'));
  }

  /** Names of every command this QEMU accepts. */
  get commands(): string[] {
    return [...this.byName.values()].filter((e) => e['meta-type'] === 'command').map((e) => str(e.name));
  }

  /**
   * Loads the qdev properties of device drivers (for `device_add` checks). A driver this QEMU
   * does not have is remembered as missing and reported by `check`.
   */
  async loadDeviceProperties(client: QmpClient, drivers: Iterable<string>): Promise<void> {
    for (const driver of new Set(drivers)) {
      if (this.deviceProps.has(driver)) continue;
      try {
        const props = await client.execute('device-list-properties', { typename: driver });
        this.deviceProps.set(driver, new Map(props.map((p) => [p.name, p.type])));
      } catch {
        this.deviceProps.set(driver, null);
      }
    }
  }

  /** Every mismatch of `command(args)` against the schema; empty when it is valid. */
  check(command: string, args: Record<string, unknown> | undefined): string[] {
    const problems: string[] = [];
    const cmd = this.byName.get(command);
    if (cmd?.['meta-type'] !== 'command') return [`unknown command \`${command}\``];
    if (hasDeprecated(cmd.features)) problems.push(`command \`${command}\` is deprecated`);
    const value = args ?? {};
    if (command === 'device_add') {
      this.checkObject(str(cmd['arg-type']), value, 'arguments', problems, true);
      this.checkDeviceProps(value, problems);
    } else {
      this.checkValue(str(cmd['arg-type']), value, 'arguments', problems);
    }
    return problems;
  }

  /** Throws {@link QmpSchemaMismatchError} when `command(args)` does not match the schema. */
  assertValid(command: string, args: Record<string, unknown> | undefined): void {
    const problems = this.check(command, args);
    if (problems.length > 0) throw new QmpSchemaMismatchError(command, problems);
  }

  private checkDeviceProps(args: Record<string, unknown>, problems: string[]): void {
    const driver = args.driver;
    if (typeof driver !== 'string') return;
    const props = this.deviceProps.get(driver);
    if (props === undefined) return; // not loaded: only the QAPI part was checked
    if (props === null) {
      problems.push(`device driver \`${driver}\` does not exist in this QEMU`);
      return;
    }
    for (const [key, v] of Object.entries(args)) {
      if (key === 'driver' || key === 'id' || key === 'bus' || v === undefined) continue;
      const type = props.get(key);
      if (type === undefined) {
        problems.push(`arguments.${key}: \`${driver}\` has no property \`${key}\``);
        continue;
      }
      if (type === 'bool' && typeof v !== 'boolean') {
        problems.push(`arguments.${key}: expected bool, got ${describe(v)}`);
      } else if (key === 'addr' && typeof v === 'string') {
        // pci-devfn (`addr`) is typed int32 but QEMU also parses "slot[.fn]" strings, as Kata sends.
        if (!/^(0x)?[0-9a-f]{1,2}(\.[0-7])?$/i.test(v))
          problems.push(`arguments.addr: \`${v}\` is not slot[.fn]`);
      } else if (INT_PROP.test(type) && !(typeof v === 'number' && Number.isInteger(v))) {
        problems.push(`arguments.${key}: expected ${type} (an integer), got ${describe(v)}`);
      } else if (type === 'str' && typeof v !== 'string') {
        problems.push(`arguments.${key}: expected str, got ${describe(v)}`);
      }
    }
  }

  private checkValue(typeName: string, v: unknown, path: string, problems: string[]): void {
    const t = this.byName.get(typeName);
    if (!t) {
      problems.push(`${path}: schema type \`${typeName}\` not found`);
      return;
    }
    switch (t['meta-type']) {
      case 'builtin':
        this.checkBuiltin(str(t['json-type']), typeName, v, path, problems);
        return;
      case 'enum': {
        const values = Array.isArray(t.values) ? t.values : [];
        if (typeof v !== 'string')
          problems.push(`${path}: expected one of ${values.join('|')}, got ${describe(v)}`);
        else if (!values.includes(v)) problems.push(`${path}: \`${v}\` is not one of ${values.join('|')}`);
        else if (this.enumMemberDeprecated(t, v)) problems.push(`${path}: value \`${v}\` is deprecated`);
        return;
      }
      case 'array':
        if (!Array.isArray(v)) {
          problems.push(`${path}: expected an array, got ${describe(v)}`);
          return;
        }
        v.forEach((el, i) => {
          this.checkValue(str(t['element-type']), el, `${path}[${i}]`, problems);
        });
        return;
      case 'object':
        this.checkObject(typeName, v, path, problems, false);
        return;
      case 'alternate': {
        const members = Array.isArray(t.members) ? t.members : [];
        const options: string[][] = [];
        const sameKind: string[][] = [];
        for (const m of members) {
          if (!isRecord(m)) continue;
          const sub: string[] = [];
          this.checkValue(str(m.type), v, path, sub);
          if (sub.length === 0) return;
          options.push(sub);
          if (this.kindOf(str(m.type)) === describe(v)) sameKind.push(sub);
        }
        // Report the alternative of the value's own JSON kind when there is exactly one.
        if (sameKind.length === 1) problems.push(...sameKind[0]!);
        else
          problems.push(`${path}: matches no alternative (${options.map((o) => o.join(', ')).join(' | ')})`);
        return;
      }
      default:
        problems.push(`${path}: unexpected schema meta-type ${String(t['meta-type'])}`);
    }
  }

  /** The JSON kind (as `describe` names it) a schema type accepts. */
  private kindOf(typeName: string): string {
    const t = this.byName.get(typeName);
    switch (t?.['meta-type']) {
      case 'object':
        return 'object';
      case 'array':
        return 'array';
      case 'enum':
        return 'string';
      case 'builtin': {
        const j = str(t['json-type']);
        return j === 'int' || j === 'number' ? 'number' : j === 'null' ? 'null' : j;
      }
      default:
        return '';
    }
  }

  private enumMemberDeprecated(t: Record<string, unknown>, v: string): boolean {
    if (!Array.isArray(t.members)) return false;
    return t.members.some((m) => isRecord(m) && m.name === v && hasDeprecated(m.features));
  }

  private checkBuiltin(jsonType: string, name: string, v: unknown, path: string, problems: string[]): void {
    const ok =
      jsonType === 'value' ||
      (jsonType === 'string' && typeof v === 'string') ||
      (jsonType === 'int' && typeof v === 'number' && Number.isInteger(v)) ||
      (jsonType === 'number' && typeof v === 'number') ||
      (jsonType === 'boolean' && typeof v === 'boolean') ||
      (jsonType === 'null' && v === null) ||
      (jsonType === 'object' && isRecord(v));
    if (!ok) problems.push(`${path}: expected ${name}, got ${describe(v)}`);
  }

  /** Members of an object type, following its union variant (recursively) for this value. */
  private membersFor(
    typeName: string,
    v: Record<string, unknown>,
    out: Map<string, Member>,
    problems: string[],
    path: string,
  ): void {
    const t = this.byName.get(typeName);
    if (t?.['meta-type'] !== 'object') {
      problems.push(`${path}: schema type \`${typeName}\` is not an object`);
      return;
    }
    for (const m of Array.isArray(t.members) ? t.members : []) {
      if (!isRecord(m)) continue;
      const name = str(m.name);
      out.set(name, {
        name,
        type: str(m.type),
        optional: 'default' in m,
        deprecated: hasDeprecated(m.features),
      });
    }
    const tag = t.tag;
    if (typeof tag !== 'string') return;
    const tagValue = v[tag];
    if (typeof tagValue !== 'string') return; // the tag member's own check reports it
    const variants = Array.isArray(t.variants) ? t.variants : [];
    const variant = variants.find((x) => isRecord(x) && x.case === tagValue);
    if (isRecord(variant)) this.membersFor(str(variant.type), v, out, problems, path);
  }

  private checkObject(
    typeName: string,
    v: unknown,
    path: string,
    problems: string[],
    allowExtra: boolean,
  ): void {
    if (!isRecord(v)) {
      problems.push(`${path}: expected an object, got ${describe(v)}`);
      return;
    }
    const members = new Map<string, Member>();
    this.membersFor(typeName, v, members, problems, path);
    for (const m of members.values()) {
      const value = v[m.name];
      if (value === undefined) {
        if (!m.optional) problems.push(`${path}.${m.name}: required member missing`);
        continue;
      }
      if (m.deprecated) problems.push(`${path}.${m.name}: member is deprecated`);
      this.checkValue(m.type, value, `${path}.${m.name}`, problems);
    }
    if (allowExtra) return;
    for (const key of Object.keys(v)) {
      if (v[key] !== undefined && !members.has(key)) problems.push(`${path}.${key}: unknown member`);
    }
  }
}
