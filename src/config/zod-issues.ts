// zod issues -> vmactor's ConfigIssues: execa-style ``Expected `devices[2].file` to be …, got `x` `` with full paths.
//
// Every schema in src/devices/spec.ts and src/config/knob-types.ts carries the phrase that
// completes "Expected `path` …" as its zod `error`; a phrase starting with `to ` is used as is,
// any other follows `to be`. Issues without a phrase get one from `phraseOf` (the per-parse error
// map). Unknown keys keep `checks.ts`'s wording (`unknownKeyMessage`), a bad discriminator lists
// the allowed values, and a missing required field says "got nothing".
import { z } from 'zod';
import { at, show, unknownKeyMessage } from './checks.js';
import type { ConfigIssue } from './types.js';

type Issue = z.core.$ZodIssue;
type RawIssue = z.core.$ZodRawIssue;

const A: Readonly<Record<string, string>> = {
  int: 'an integer',
  array: 'an array',
  object: 'an object',
  undefined: 'absent',
};

const list = (values: readonly unknown[]): string => values.map((v) => `\`${String(v)}\``).join(', ');

/** The phrase for an issue whose schema has none (zod's per-parse error map). */
export function phraseOf(issue: RawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return A[issue.expected] ?? `a ${issue.expected}`;
    case 'too_small':
      return issue.origin === 'array' || issue.origin === 'set'
        ? `a list of at least ${String(issue.minimum)} item(s)`
        : `${issue.origin === 'string' ? 'a string of length' : 'a number'} ${issue.inclusive ? '≥' : '>'} ${String(issue.minimum)}`;
    case 'too_big':
      return issue.origin === 'array' || issue.origin === 'set'
        ? `a list of at most ${String(issue.maximum)} item(s)`
        : `${issue.origin === 'string' ? 'a string of length' : 'a number'} ${issue.inclusive ? '≤' : '<'} ${String(issue.maximum)}`;
    case 'invalid_value':
      return issue.values.length === 1 ? list(issue.values) : `one of ${list(issue.values)}`;
    case 'invalid_format':
      return issue.format === 'regex' && issue.pattern !== undefined
        ? `a string matching ${issue.pattern}`
        : `a valid ${issue.format}`;
    default:
      return issue.message ?? 'valid';
  }
}

/** Parse options that give every issue a phrase (pass to `safeParse`). */
export const PARSE_OPTIONS = { error: phraseOf } as const;

/** The schema `path` leads to inside `schema`, following the input through unions; undefined when unknown. */
export function schemaAt(
  schema: z.ZodType | undefined,
  path: readonly PropertyKey[],
  input: unknown,
): z.ZodType | undefined {
  let node = schema;
  let value = input;
  for (let i = 0; i <= path.length && node !== undefined; ) {
    if (node instanceof z.ZodOptional || node instanceof z.ZodNullable || node instanceof z.ZodDefault) {
      node = node.unwrap() as z.ZodType;
      continue;
    }
    if (node instanceof z.ZodPipe) {
      node = node.in as z.ZodType;
      continue;
    }
    if (node instanceof z.ZodUnion) {
      const rest = path.slice(i);
      const options = node.options as readonly z.ZodType[];
      const fitting = options.filter((o) => fits(o, value));
      for (const option of fitting.length > 0 ? fitting : options) {
        const found = schemaAt(option, rest, value);
        if (found !== undefined) return found;
      }
      return undefined;
    }
    if (i === path.length) return node;
    const key = path[i];
    if (node instanceof z.ZodObject && typeof key === 'string') {
      node = (node.shape as Record<string, z.ZodType>)[key];
    } else if (node instanceof z.ZodArray && typeof key === 'number') {
      node = node.element as z.ZodType;
    } else {
      return undefined;
    }
    value = isRecord(value) ? value[key as string] : undefined;
    i++;
  }
  return node;
}

function isRecord(value: unknown): value is Record<PropertyKey, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Whether `value` could be meant for `schema`: same JSON type, same discriminating literals. */
function fits(schema: z.ZodType, value: unknown): boolean {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable || schema instanceof z.ZodDefault)
    return fits(schema.unwrap() as z.ZodType, value);
  if (schema instanceof z.ZodPipe) return fits(schema.in as z.ZodType, value);
  if (schema instanceof z.ZodUnion)
    return (schema.options as readonly z.ZodType[]).some((o) => fits(o, value));
  if (schema instanceof z.ZodArray) return Array.isArray(value);
  if (schema instanceof z.ZodString) return typeof value === 'string';
  if (!(schema instanceof z.ZodObject)) return true;
  if (!isRecord(value) || Array.isArray(value)) return false;
  for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    if (field instanceof z.ZodLiteral && !field.values.has(value[key] as never)) return false;
  }
  return true;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) value = isRecord(value) ? value[key] : undefined;
  return value;
}

function join(base: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>((p, key) => at(p, typeof key === 'number' ? key : String(key)), base);
}

/** `Expected `path` to be phrase, got `value`` (or `got nothing`). */
export function expectedMessage(path: string, phrase: string, value: unknown): string {
  const verb = phrase.startsWith('to ') ? phrase : `to be ${phrase}`;
  return `Expected \`${path}\` ${verb}, got ${value === undefined ? 'nothing' : `\`${show(value)}\``}`;
}

/**
 * Render zod issues of `schema.safeParse(input)` as ConfigIssues under `base` (`devices[2]`).
 *
 * @example
 * const r = deviceSpecSchema.safeParse(raw, PARSE_OPTIONS);
 * if (!r.success) issues.push(...renderIssues(r.error.issues, raw, 'devices[2]', deviceSpecSchema));
 */
export function renderIssues(
  issues: readonly Issue[],
  input: unknown,
  base: string,
  schema: z.ZodType | undefined,
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) {
    const path = join(base, issue.path);
    const value = valueAt(input, issue.path);
    if (issue.code === 'unrecognized_keys') {
      const owner = schemaAt(schema, issue.path, input);
      const known = owner instanceof z.ZodObject ? Object.keys(owner.shape) : [];
      for (const key of issue.keys) {
        const p = at(path, key);
        out.push({ path: p, message: unknownKeyMessage(p, key, known) });
      }
    } else if (issue.code === 'invalid_union' && 'options' in issue && Array.isArray(issue.options)) {
      // A discriminator (`kind`, `type`) outside its values.
      out.push({ path, message: expectedMessage(path, `one of ${list(issue.options)}`, value) });
    } else if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // Report the branch whose type matched, if exactly one did; else the union's phrase.
      const matched = issue.errors.filter(
        (branch) => !branch.every((i) => i.code === 'invalid_type' && i.path.length === 0),
      );
      const only = matched.length === 1 ? matched[0] : undefined;
      if (only !== undefined)
        out.push(...renderIssues(only, value, path, schemaAt(schema, issue.path, input)));
      else out.push({ path, message: expectedMessage(path, issue.message, value) });
    } else if (issue.code === 'invalid_type' && value === undefined) {
      out.push({ path, message: `Expected \`${path}\` to be set, got nothing` });
    } else {
      out.push({ path, message: expectedMessage(path, issue.message, value) });
    }
  }
  return out;
}
