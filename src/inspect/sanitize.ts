// Makes machine context and events JSON-safe and small for the inspector: no sockets or handles, long strings and lists cut.
import type { Json } from './protocol.js';

/** How much of a value the inspector keeps. */
export interface SanitizeLimits {
  /** Longest string kept, characters (longer: cut, with `…(+N)`). */
  readonly maxString: number;
  /** Most array items / object keys kept. */
  readonly maxItems: number;
  /** Deepest nesting kept (deeper: `[depth]`). */
  readonly maxDepth: number;
}

/** Defaults of {@link SanitizeLimits}. */
export const DEFAULT_SANITIZE_LIMITS: SanitizeLimits = { maxString: 240, maxItems: 40, maxDepth: 6 };

function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…(+${s.length - max})`;
}

/** Plain objects, arrays and errors are data; any other class (a Socket, a ChildProcess, an actor) is a handle. */
function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function walk(
  value: unknown,
  limits: SanitizeLimits,
  depth: number,
  seen: WeakSet<object>,
): Json | undefined {
  switch (typeof value) {
    case 'string':
      return cut(value, limits.maxString);
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return null;
  const obj = value as object;
  if (seen.has(obj)) return '[circular]';
  if (depth >= limits.maxDepth) return '[depth]';
  if (obj instanceof Error) {
    const code = (obj as { code?: unknown }).code;
    return {
      name: cut(obj.name, limits.maxString),
      ...(typeof code === 'string' ? { code: cut(code, limits.maxString) } : {}),
      message: cut(obj.message, limits.maxString),
    };
  }
  if (obj instanceof Date) return obj.toISOString();
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      const items = obj.slice(0, limits.maxItems).map((v) => walk(v, limits, depth + 1, seen) ?? null);
      if (obj.length > limits.maxItems) items.push(`…(+${obj.length - limits.maxItems})`);
      return items;
    }
    if (!isPlain(obj)) return `[${obj.constructor?.name ?? 'object'}]`;
    const out: { [key: string]: Json } = {};
    let n = 0;
    for (const key in obj) {
      if (!Object.hasOwn(obj, key)) continue;
      if (n === limits.maxItems) {
        out['…'] = 'more keys';
        break;
      }
      const v = walk((obj as Record<string, unknown>)[key], limits, depth + 1, seen);
      if (v === undefined) continue;
      out[key] = v;
      n += 1;
    }
    return out;
  } finally {
    seen.delete(obj);
  }
}

/**
 * A JSON-safe, bounded copy of `value` for the inspector: errors as `{ name, code, message }`,
 * class instances (sockets, processes, actors, streams) as `[ClassName]`, functions dropped, strings
 * over `maxString` cut, lists over `maxItems` cut, nesting over `maxDepth` cut, cycles named.
 *
 * @example
 * ```ts
 * sanitize({ socket: new Socket(), log: 'x'.repeat(10_000) }); // { socket: '[Socket]', log: 'xxx…(+9760)' }
 * ```
 */
export function sanitize(value: unknown, limits: SanitizeLimits = DEFAULT_SANITIZE_LIMITS): Json {
  return walk(value, limits, 0, new WeakSet()) ?? null;
}
