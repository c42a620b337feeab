// A hot-plug's DeviceSpec validated with the schema the config uses; problems become one typed error.
import { type Stats, statSync } from 'node:fs';
import type { z } from 'zod';
import { type DeviceSpec, deviceSpecSchema } from '../devices/spec.js';
import { HotplugInputError } from './errors.js';

function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  const s = JSON.stringify(value);
  return s === undefined ? String(value) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const k of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** One zod issue as ``Expected `device.x` to be …, got `y` ``. */
function render(input: unknown, issue: z.core.$ZodIssue): string {
  const path = ['device', ...issue.path.map(String)].join('.');
  const got = show(valueAt(input, issue.path));
  if (issue.code === 'custom' || issue.code === 'invalid_format') {
    return `Expected \`${path}\` to be ${issue.message}, got \`${got}\``;
  }
  if (issue.code === 'unrecognized_keys') {
    return `Expected \`${path}\` to have no key ${issue.keys.map((k) => `\`${k}\``).join(', ')}`;
  }
  return `Expected \`${path}\` to be valid (${issue.message}), got \`${got}\``;
}

/**
 * Parses `input` with `deviceSpecSchema` (the one definition cold plug uses); every problem is
 * listed in one {@link HotplugInputError} before anything is sent.
 *
 * @example
 * parseDeviceSpec({ kind: 'block', id: 'd1', file: '/img' }) // => the typed BlockSpec
 * parseDeviceSpec({ kind: 'block', id: '1d', file: 'img' })  // throws HotplugInputError, 2 issues
 */
export function parseDeviceSpec(input: unknown): DeviceSpec {
  const r = deviceSpecSchema.safeParse(input);
  if (r.success) return r.data;
  throw new HotplugInputError(
    r.error.issues.map((i) => render(input, i)),
    { cause: r.error },
  );
}

/** `stat` of a disk's host file: a regular file or block device, else {@link HotplugInputError}. */
export function statBacking(file: string): Stats {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (cause) {
    throw new HotplugInputError(
      `Expected \`device.file\` to be an existing file or block device, got \`${file}\``,
      {
        cause,
      },
    );
  }
  if (!st.isFile() && !st.isBlockDevice()) {
    throw new HotplugInputError(
      `Expected \`device.file\` to be a regular file or a block device, got \`${file}\``,
    );
  }
  return st;
}
