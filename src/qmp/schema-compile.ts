// Compiles QEMU's introspected QAPI schema (`query-qmp-schema`) into one checker per type, built
// lazily on first use and reused for every later command: no allocation unless a problem is found.
import type { QmpSchemaInfo } from './commands.js';

/** One mismatch: where (e.g. `arguments.file.aio`) and what. */
export interface QmpSchemaProblem {
  /** Path of the bad member from `arguments`, e.g. `arguments.capabilities[0].state`. */
  readonly path: string;
  /** What is wrong, e.g. ``expected bool, got string``. */
  readonly message: string;
}

/** Collects problems while a value is walked; the path is a stack, joined only on a problem. */
export class CheckContext {
  private readonly segs: (string | number)[] = [];
  problems: QmpSchemaProblem[] | undefined = undefined;

  /** Resets for a new command. */
  reset(): void {
    this.segs.length = 0;
    this.problems = undefined;
  }

  /** Enters a member (string) or an array element (number). */
  push(seg: string | number): void {
    this.segs.push(seg);
  }

  /** Leaves the current member. */
  pop(): void {
    this.segs.pop();
  }

  /** Records a problem at the current path. */
  report(message: string): void {
    let path = 'arguments';
    for (const s of this.segs) path += typeof s === 'number' ? `[${s}]` : `.${s}`;
    if (this.problems === undefined) this.problems = [];
    this.problems.push({ path, message });
  }
}

/** The JSON kind of a value as messages name it. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v === 'number' && !Number.isInteger(v) ? 'non-integer number' : typeof v;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function str(x: unknown): string {
  return typeof x === 'string' ? x : '';
}

function hasDeprecated(x: unknown): boolean {
  return Array.isArray(x) && x.includes('deprecated');
}

// Integer ranges of QAPI's builtin integer types (QEMU rejects values outside them). The 64-bit
// bounds are as close as a JS number gets; JSON numbers beyond 2^53 are not exact anyway.
const INT_RANGES: Record<string, readonly [number, number]> = {
  int8: [-(2 ** 7), 2 ** 7 - 1],
  int16: [-(2 ** 15), 2 ** 15 - 1],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int64: [-(2 ** 63), 2 ** 63],
  int: [-(2 ** 63), 2 ** 63],
  uint8: [0, 2 ** 8 - 1],
  uint16: [0, 2 ** 16 - 1],
  uint32: [0, 2 ** 32 - 1],
  uint64: [0, 2 ** 64],
  size: [0, 2 ** 64],
};

/** A compiled schema type. `kind` is the JSON kind it accepts (alternates dispatch on it). */
export abstract class TypeNode {
  abstract readonly kind: string;
  abstract check(v: unknown, ctx: CheckContext): void;
}

class AnyNode extends TypeNode {
  readonly kind = 'value';
  check(): void {}
}

class MissingNode extends TypeNode {
  readonly kind = 'missing';
  constructor(private readonly name: string) {
    super();
  }
  check(_v: unknown, ctx: CheckContext): void {
    ctx.report(`schema type \`${this.name}\` not found`);
  }
}

class BuiltinNode extends TypeNode {
  readonly kind: string;
  private readonly range: readonly [number, number] | undefined;
  constructor(
    private readonly name: string,
    private readonly jsonType: string,
  ) {
    super();
    this.kind = jsonType === 'int' ? 'number' : jsonType;
    this.range = jsonType === 'int' ? INT_RANGES[name] : undefined;
  }
  check(v: unknown, ctx: CheckContext): void {
    switch (this.jsonType) {
      case 'string':
        if (typeof v === 'string') return;
        break;
      case 'int':
        if (typeof v === 'number' && Number.isInteger(v)) {
          const r = this.range;
          if (r !== undefined && (v < r[0] || v > r[1]))
            ctx.report(`expected ${this.name} (${r[0]}..${r[1]}), got ${v}`);
          return;
        }
        break;
      case 'number':
        if (typeof v === 'number') return;
        break;
      case 'boolean':
        if (typeof v === 'boolean') return;
        break;
      case 'null':
        if (v === null) return;
        break;
      case 'object':
        if (isRecord(v)) return;
        break;
      default:
        return; // 'value' (any)
    }
    ctx.report(`expected ${this.name}, got ${describeValue(v)}`);
  }
}

class EnumNode extends TypeNode {
  readonly kind = 'string';
  private readonly values: ReadonlySet<string>;
  private readonly deprecated: ReadonlySet<string>;
  private readonly list: string;
  constructor(t: Record<string, unknown>) {
    super();
    const values = Array.isArray(t.values) ? t.values.map(str) : [];
    this.values = new Set(values);
    this.list = values.join('|');
    const members = Array.isArray(t.members) ? t.members : [];
    this.deprecated = new Set(
      members.filter((m) => isRecord(m) && hasDeprecated(m.features)).map((m) => str(m.name)),
    );
  }
  check(v: unknown, ctx: CheckContext): void {
    if (typeof v !== 'string') ctx.report(`expected one of ${this.list}, got ${describeValue(v)}`);
    else if (!this.values.has(v)) ctx.report(`\`${v}\` is not one of ${this.list}`);
    else if (this.deprecated.size > 0 && this.deprecated.has(v)) ctx.report(`value \`${v}\` is deprecated`);
  }
}

class ArrayNode extends TypeNode {
  readonly kind = 'array';
  element: TypeNode = new AnyNode();
  check(v: unknown, ctx: CheckContext): void {
    if (!Array.isArray(v)) {
      ctx.report(`expected an array, got ${describeValue(v)}`);
      return;
    }
    const el = this.element;
    for (let i = 0; i < v.length; i++) {
      ctx.push(i);
      el.check(v[i], ctx);
      ctx.pop();
    }
  }
}

interface MemberPlan {
  readonly name: string;
  readonly optional: boolean;
  readonly deprecated: boolean;
  readonly type: TypeNode;
}

/** A struct or (flat) union: its own members, then the branch picked by the discriminator. */
export class ObjectNode extends TypeNode {
  readonly kind = 'object';
  members: readonly MemberPlan[] = [];
  known: ReadonlySet<string> = new Set();
  tag: string | undefined = undefined;
  variants: ReadonlyMap<string, ObjectNode> = new Map();

  check(v: unknown, ctx: CheckContext): void {
    this.checkObject(v, ctx, false);
  }

  /** Checks `v`; `allowExtra` accepts members the schema does not list (device_add's qdev properties). */
  checkObject(v: unknown, ctx: CheckContext, allowExtra: boolean): void {
    if (!isRecord(v)) {
      ctx.report(`expected an object, got ${describeValue(v)}`);
      return;
    }
    this.checkMembers(v, ctx);
    if (allowExtra) return;
    for (const key in v) {
      if (v[key] !== undefined && !this.knows(v, key)) {
        ctx.push(key);
        ctx.report('unknown member');
        ctx.pop();
      }
    }
  }

  private checkMembers(v: Record<string, unknown>, ctx: CheckContext): void {
    for (const m of this.members) {
      const value = v[m.name];
      ctx.push(m.name);
      if (value === undefined) {
        if (!m.optional) ctx.report('required member missing');
      } else {
        if (m.deprecated) ctx.report('member is deprecated');
        m.type.check(value, ctx);
      }
      ctx.pop();
    }
    const branch = this.branch(v);
    if (branch !== undefined) branch.checkMembers(v, ctx);
  }

  private branch(v: Record<string, unknown>): ObjectNode | undefined {
    if (this.tag === undefined) return undefined;
    const t = v[this.tag];
    return typeof t === 'string' ? this.variants.get(t) : undefined;
  }

  private knows(v: Record<string, unknown>, key: string): boolean {
    if (this.known.has(key)) return true;
    const branch = this.branch(v);
    return branch?.knows(v, key) === true;
  }
}

class AlternateNode extends TypeNode {
  readonly kind = 'alternate';
  byKind = new Map<string, TypeNode>();
  kinds = '';
  check(v: unknown, ctx: CheckContext): void {
    // QAPI alternatives are told apart by JSON kind; check the one of the value's kind.
    const k = v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
    const alt = this.byKind.get(k) ?? this.byKind.get('value');
    if (alt === undefined) ctx.report(`expected ${this.kinds}, got ${describeValue(v)}`);
    else alt.check(v, ctx);
  }
}

/** Lazily compiled checkers for every type of one schema (recursive types are fine). */
export class SchemaCompiler {
  private readonly nodes = new Map<string, TypeNode>();

  constructor(private readonly byName: ReadonlyMap<string, QmpSchemaInfo>) {}

  /** The checker of a type, compiled on first use. */
  node(name: string): TypeNode {
    const have = this.nodes.get(name);
    if (have !== undefined) return have;
    const t = this.byName.get(name) as Record<string, unknown> | undefined;
    switch (t?.['meta-type']) {
      case 'builtin': {
        const n =
          str(t['json-type']) === 'value' ? new AnyNode() : new BuiltinNode(name, str(t['json-type']));
        this.nodes.set(name, n);
        return n;
      }
      case 'enum': {
        const n = new EnumNode(t);
        this.nodes.set(name, n);
        return n;
      }
      case 'array': {
        const n = new ArrayNode();
        this.nodes.set(name, n); // registered before its element: recursion resolves to it
        n.element = this.node(str(t['element-type']));
        return n;
      }
      case 'object':
        return this.object(name);
      case 'alternate': {
        const n = new AlternateNode();
        this.nodes.set(name, n);
        const kinds: string[] = [];
        for (const m of Array.isArray(t.members) ? t.members : []) {
          if (!isRecord(m)) continue;
          const alt = this.node(str(m.type));
          // QAPI requires the alternatives of an alternate to differ in JSON kind.
          n.byKind.set(alt.kind, alt);
          kinds.push(alt.kind);
        }
        n.kinds = kinds.join(' or ');
        return n;
      }
      default: {
        const n = new MissingNode(name);
        this.nodes.set(name, n);
        return n;
      }
    }
  }

  /** The checker of an object type. */
  object(name: string): ObjectNode {
    const have = this.nodes.get(name);
    if (have instanceof ObjectNode) return have;
    const n = new ObjectNode();
    this.nodes.set(name, n);
    const t = this.byName.get(name) as Record<string, unknown> | undefined;
    if (t?.['meta-type'] !== 'object') return n;
    const members: MemberPlan[] = [];
    for (const m of Array.isArray(t.members) ? t.members : []) {
      if (!isRecord(m)) continue;
      members.push({
        name: str(m.name),
        optional: 'default' in m,
        deprecated: hasDeprecated(m.features),
        type: this.node(str(m.type)),
      });
    }
    n.members = members;
    n.known = new Set(members.map((m) => m.name));
    if (typeof t.tag === 'string') {
      n.tag = t.tag;
      const variants = new Map<string, ObjectNode>();
      for (const v of Array.isArray(t.variants) ? t.variants : []) {
        if (isRecord(v)) variants.set(str(v.case), this.object(str(v.type)));
      }
      n.variants = variants;
    }
    return n;
  }
}
