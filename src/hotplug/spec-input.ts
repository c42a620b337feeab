// A hot-plug's DeviceSpec validated with the schema and issue renderer the config uses: one typed error.
import { type Stats, statSync } from 'node:fs';
import { PARSE_OPTIONS, renderIssues } from '../config/zod-issues.js';
import { type DeviceSpec, deviceSpecSchema } from '../devices/spec.js';
import { HotplugInputError } from './errors.js';

/**
 * Parses `input` with `deviceSpecSchema` (the one definition cold plug uses); every problem is
 * listed in one {@link HotplugInputError} before anything is sent.
 *
 * @example
 * parseDeviceSpec({ kind: 'block', id: 'd1', file: '/img' }) // => the typed BlockSpec
 * parseDeviceSpec({ kind: 'block', id: '1d', file: 'img' })  // throws HotplugInputError, 2 issues
 */
export function parseDeviceSpec(input: unknown): DeviceSpec {
  const r = deviceSpecSchema.safeParse(input, PARSE_OPTIONS);
  if (r.success) return r.data;
  // The config's renderer: the same messages as a config's `devices[i]`, under `device`.
  const issues = renderIssues(r.error.issues, input, 'device', deviceSpecSchema);
  throw new HotplugInputError(
    issues.map((i) => i.message),
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
