// The issue collector and message helpers of config validation: paths, `Expected … got …`, unknown keys.
import type { ConfigIssue } from './types.js';

/** Issue collector shared by the checkers of one validation run. */
export interface Issues {
  readonly list: ConfigIssue[];
}

/** A checker: returns the accepted value, or `undefined` after recording an issue. */
export type Checker<T> = (issues: Issues, path: string, value: unknown) => T | undefined;

/** Largest value of a Go `uint32` (the type of Kata's numeric HypervisorConfig fields). */
export const UINT32_MAX = 0xffff_ffff;

/** Render a value for a message: short JSON, `undefined` for missing. */
export function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Own-property lookup (never `Object.prototype` members such as `valueOf`). */
export function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** Record one issue. */
export function report(issues: Issues, path: string, message: string): void {
  issues.list.push({ path, message });
}

/** Record an `Expected `path` to be what, got `value`` issue. */
export function expected(issues: Issues, path: string, what: string, value: unknown): undefined {
  report(issues, path, `Expected \`${path}\` to be ${what}, got \`${show(value)}\``);
  return undefined;
}

/** True for `{}`-like objects (not arrays, not null, not class instances such as Date). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

const PLAIN_KEY_RE = /^[A-Za-z_$][\w$-]*$/;

/** Join an object path and a key: `a.b`, `a[2]`, or `a["odd key"]` when the key is not a plain name. */
export function at(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (!PLAIN_KEY_RE.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === '' ? key : `${path}.${key}`;
}

/** Any string without NUL bytes (it must survive an argv). */
export const text: Checker<string> = (issues, path, value) =>
  typeof value === 'string' && !value.includes('\0')
    ? value
    : expected(issues, path, 'a string without NUL bytes', value);

/** Check an object's keys against `fields`; report unknown keys and missing `required` ones. */
export function checkObject(
  issues: Issues,
  path: string,
  value: unknown,
  fields: Readonly<Record<string, Checker<unknown>>>,
  required: readonly string[] = [],
  what = 'an object',
): Record<string, unknown> | undefined {
  if (!isPlainObject(value)) return expected(issues, path, what, value);
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(value)) {
    const check = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (check === undefined) {
      report(issues, at(path, key), unknownKeyMessage(at(path, key), key, Object.keys(fields)));
      continue;
    }
    if (raw === undefined) continue;
    const checked = check(issues, at(path, key), raw);
    if (checked !== undefined) out[key] = checked;
  }
  for (const key of required) {
    if (value[key] === undefined)
      report(issues, at(path, key), `Expected \`${at(path, key)}\` to be set, got nothing`);
  }
  return out;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j] as number;
      row[j] = Math.min(up + 1, (row[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length] as number;
}

/** `Unknown key` message with a "did you mean" for a near miss, or the known keys when there are few. */
export function unknownKeyMessage(path: string, key: string, known: readonly string[]): string {
  const lower = key.toLowerCase().replace(/[_-]/g, '');
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const kl = k.toLowerCase();
    const d = lower !== '' && (kl.startsWith(lower) || lower.startsWith(kl)) ? 1 : distance(lower, kl);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  if (best !== undefined && bestDistance <= Math.max(2, Math.floor(lower.length / 3))) {
    return `Unknown key \`${path}\`; did you mean \`${best}\`?`;
  }
  return known.length <= 12
    ? `Unknown key \`${path}\`; known keys: ${known.join(', ')}`
    : `Unknown key \`${path}\`; see HypervisorConfig for the known keys`;
}
