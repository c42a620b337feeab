// Config `devices`: each one parsed by THE DeviceSpec schema, then the cross-device and per-arch rules.
import type { Arch } from '../devices/rules.js';
import { type DeviceSpec, deviceSpecSchema } from '../devices/spec.js';
import { at, expected, type Issues, isPlainObject, report, show } from './checks.js';
import type { ConfigIssue } from './types.js';
import { PARSE_OPTIONS, renderIssues } from './zod-issues.js';

/** A parsed device, or the issues (execa style, under `path`) that refused it. */
export type DeviceSpecResult =
  | { readonly ok: true; readonly device: DeviceSpec }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };

/**
 * Parse one device with `deviceSpecSchema`, issues rendered as config issues under `path`. The
 * same check `sb.hotplug(spec)` can use, so cold and hot plug refuse a spec with the same words.
 *
 * @example
 * const r = parseDeviceSpec({ kind: 'block', id: 'd0', file: 'rel' }, 'device');
 * // r.ok === false; r.issues[0].message === 'Expected `device.file` to be an absolute path, got `"rel"`'
 */
export function parseDeviceSpec(value: unknown, path = 'device'): DeviceSpecResult {
  const parsed = deviceSpecSchema.safeParse(value, PARSE_OPTIONS);
  if (parsed.success) return { ok: true, device: parsed.data };
  return { ok: false, issues: renderIssues(parsed.error.issues, value, path, deviceSpecSchema) };
}

/** Record a value seen twice (`devices[3].id` also at `devices[1].id`). */
function unique<T>(
  issues: Issues,
  seen: Map<T, number>,
  value: T,
  path: string,
  field: string,
  i: number,
): void {
  const first = seen.get(value);
  if (first === undefined) {
    seen.set(value, i);
    return;
  }
  report(
    issues,
    path,
    `Expected \`${path}\` to be unique, got \`${show(value)}\` (also devices[${first}].${field})`,
  );
}

/** The rules that relate a device to the arch (Kata's qemu_s390x.go refusals). */
function checkArch(issues: Issues, path: string, device: DeviceSpec, arch: Arch): void {
  if (device.kind === 'vhost-user' && arch === 's390x') {
    report(
      issues,
      path,
      `Expected \`${path}\` not to be a vhost-user device on s390x (QEMU's s390x has none), got \`${show(device.type)}\``,
    );
  }
  if (device.kind === 'block' && device.driver === 'virtio-blk-ccw' && arch !== 's390x') {
    const what = 'a driver available on this arch (`virtio-blk-ccw` is s390x only)';
    expected(issues, at(path, 'driver'), what, device.driver);
  }
}

/**
 * Check `raw` (the config's `devices`): each device by the DeviceSpec schema; ids unique; vsock
 * CIDs unique (when given; absent ones are allocated at launch); at most one virtio-fs share (one
 * virtiofsd per sandbox); per-arch rules. Returns the parsed devices (all of them only when no
 * issue was recorded).
 */
export function checkDevices(issues: Issues, raw: unknown, arch: Arch): DeviceSpec[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    expected(issues, 'devices', 'an array of devices', raw);
    return [];
  }
  const devices: DeviceSpec[] = [];
  const ids = new Map<string, number>();
  const cids = new Map<number, number>();
  let virtioFs: number | undefined;
  raw.forEach((value: unknown, i) => {
    const path = at('devices', i);
    if (isPlainObject(value) && typeof value.id === 'string')
      unique(issues, ids, value.id, at(path, 'id'), 'id', i);
    if (isPlainObject(value) && value.kind === 'vsock' && typeof value.contextId === 'number') {
      unique(issues, cids, value.contextId, at(path, 'contextId'), 'contextId', i);
    }
    const parsed = parseDeviceSpec(value, path);
    if (!parsed.ok) {
      issues.list.push(...parsed.issues);
      return;
    }
    const device = parsed.device;
    if (device.kind === 'fs' && device.type === 'virtio-fs') {
      if (virtioFs !== undefined) {
        report(
          issues,
          path,
          `Expected at most one virtio-fs share (one virtiofsd per sandbox), got \`${path}\` besides devices[${virtioFs}]`,
        );
      } else virtioFs = i;
    }
    checkArch(issues, path, device, arch);
    devices.push(device);
  });
  return devices;
}
