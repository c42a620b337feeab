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
  const known = typeof input === 'object' && input !== null ? parsedSpecs.get(input) : undefined;
  if (known) {
    // Taken once: the plug may build on its spec; a later call on the same object parses afresh.
    parsedSpecs.delete(input as object);
    if (known.json === jsonOf(input)) return known.spec;
  }
  const r = deviceSpecSchema.safeParse(input, PARSE_OPTIONS);
  if (r.success) return r.data;
  // The config's renderer: the same messages as a config's `devices[i]`, under `device`.
  const issues = renderIssues(r.error.issues, input, 'device', deviceSpecSchema);
  throw new HotplugInputError(
    issues.map((i) => i.message),
    { cause: r.error },
  );
}

/**
 * The last valid parse of each spec object, with the JSON it was parsed from: the capacity guard
 * and the plug parse the same spec within one admission; the plug takes the guard's parse (once; a
 * spec changed in between no longer matches its JSON and is parsed again).
 */
const parsedSpecs = new WeakMap<object, { readonly json: string; readonly spec: DeviceSpec }>();

/**
 * `input` parsed with `deviceSpecSchema`, or undefined when it is invalid (no error built: the
 * capacity guard lets an invalid spec through to {@link parseDeviceSpec}, which lists every problem).
 *
 * @example
 * validDeviceSpec({ kind: 'block', id: 'd1', file: '/img' }) // => the typed BlockSpec
 * validDeviceSpec({ kind: 'block' })                         // => undefined
 */
export function validDeviceSpec(input: unknown): DeviceSpec | undefined {
  const json = jsonOf(input);
  if (typeof input !== 'object' || input === null || json === undefined)
    return deviceSpecSchema.safeParse(input).data;
  const known = parsedSpecs.get(input);
  if (known?.json === json) return known.spec;
  const r = deviceSpecSchema.safeParse(input);
  if (!r.success) return undefined;
  parsedSpecs.set(input, { json, spec: r.data });
  return r.data;
}

/** The JSON of a spec, or undefined for what JSON cannot hold (a cycle, a BigInt: never cached). */
function jsonOf(input: unknown): string | undefined {
  try {
    return JSON.stringify(input);
  } catch {
    return undefined;
  }
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
