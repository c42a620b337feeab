// The zod value types of hypervisor knobs, each carrying its ``Expected `x` to be …`` phrase.
import { z } from 'zod';
import { UINT32_MAX } from './checks.js';

const noNul = (s: string): boolean => !s.includes('\0');

/** A non-negative integer that fits Go's uint32 (the Kata fields'), optionally bounded. */
export function uint(min = 0, max = UINT32_MAX, what?: string) {
  const range = max === UINT32_MAX ? `≥ ${min}` : `between ${min} and ${max}`;
  return z
    .number({ error: what ?? `an integer ${range}` })
    .int()
    .min(min)
    .max(max);
}

/** A boolean. */
export const bool = z.boolean({ error: 'a boolean' });

/** Any string without NUL bytes (it must survive an argv). */
export const text = z
  .string({ error: 'a string without NUL bytes' })
  .refine(noNul, 'a string without NUL bytes');

/** An absolute host path (`''` accepted as "unset" when `allowEmpty`). Existence is checked at launch. */
export function absPath(allowEmpty: boolean) {
  const what = allowEmpty ? 'an absolute path or ""' : 'an absolute path';
  return z
    .string({ error: what })
    .refine((s) => noNul(s) && (s.startsWith('/') || (allowEmpty && s === '')), what);
}

/** An executable: a bare name looked up in PATH (`qemu-system-x86_64`) or an absolute path. */
export const command = z
  .string({ error: 'a command name or an absolute path' })
  .refine(
    (s) => s !== '' && noNul(s) && (s.startsWith('/') || !s.includes('/')),
    'a command name or an absolute path',
  );

/** One of a fixed set of strings. */
export function oneOf<const T extends readonly string[]>(values: T) {
  return z.enum(values, { error: `one of ${values.map((c) => `\`${c}\``).join(', ')}` });
}

/** A string matching `re`. */
export function pattern(re: RegExp, what: string) {
  return z.string({ error: what }).regex(re);
}

/** An array of NUL-free strings. */
export const textList = z.array(text, { error: 'an array of strings' });

const KEY_RE = /^[^\s=\0]+$/;

/** A `{key, value}` parameter: key non-empty without whitespace or `=`; value any NUL-free string (default ''). */
export const paramSchema = z
  .strictObject(
    {
      key: pattern(KEY_RE, 'a non-empty string without whitespace or `=`'),
      value: text.optional(),
    },
    { error: 'an object `{ key, value }`' },
  )
  .transform(({ key, value }) => ({ key, value: value ?? '' }));

/** Parameters as `{key, value}[]`, or a space-separated string (`"a=1 b"`, as Kata's `kernel_params`). */
export const paramsSchema = z.union(
  [
    text.transform((s, ctx) => {
      const out: { key: string; value: string }[] = [];
      for (const field of s.split(/\s+/).filter((f) => f !== '')) {
        const eq = field.indexOf('=');
        if (eq === 0) {
          ctx.addIssue({
            code: 'custom',
            input: s,
            message: `to have a key in every parameter (\`${field}\`)`,
          });
        } else {
          out.push({ key: eq < 0 ? field : field.slice(0, eq), value: eq < 0 ? '' : field.slice(eq + 1) });
        }
      }
      return out;
    }),
    z.array(paramSchema),
  ],
  { error: 'parameters: a string `a=1 b` or an array of `{ key, value }`' },
);
