// Config `devices`: each one parsed by THE DeviceSpec schema, then the cross-device and per-arch rules.
import type { Arch } from '../devices/rules.js';
import { type BlockDriver, type DeviceSpec, deviceSpecSchema } from '../devices/spec.js';
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

/** What the device rules read of the (resolved) hypervisor config. */
export interface DeviceContext {
  readonly arch: Arch;
  /** The hypervisor's default block driver (a disk without `driver` uses it). */
  readonly blockDeviceDriver: BlockDriver;
  /** Booting to be or from a VM template. */
  readonly template: boolean;
}

/** The rules that relate a device to the arch and the hypervisor (Kata's qemu_s390x.go refusals, templates). */
function checkContext(issues: Issues, path: string, device: DeviceSpec, ctx: DeviceContext): void {
  const { arch } = ctx;
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
  if (
    device.kind === 'block' &&
    device.pmem === true &&
    (device.driver ?? ctx.blockDeviceDriver) !== 'nvdimm'
  ) {
    report(
      issues,
      at(path, 'pmem'),
      `Expected \`${at(path, 'pmem')}\` only on an \`nvdimm\` disk (it sets the nvdimm's memory backend)`,
    );
  }
  if (device.kind === 'vhost-user' && ctx.template) {
    report(
      issues,
      path,
      `Expected \`${path}\` not to be a vhost-user device with VM templating (its backend maps guest memory shared, outside the migration stream)`,
    );
  }
  if (device.kind === 'balloon' && device.freePageReporting === true && ctx.template) {
    report(
      issues,
      at(path, 'freePageReporting'),
      `Expected \`${at(path, 'freePageReporting')}\` to be false with VM templating (reported pages would be dropped from the shared template memory)`,
    );
  }
  if (device.kind === 'fs' && device.type === 'virtio-fs' && ctx.template) {
    report(
      issues,
      path,
      `Expected \`${path}\` not to be a virtio-fs share with VM templating (virtio-fs needs shared memory; templates need private memory)`,
    );
  }
}

/** Devices QEMU takes at most once per VM (a second virtio-balloon or pvpanic is refused). */
const SINGLETONS: readonly DeviceSpec['kind'][] = ['balloon', 'pvpanic'];

/**
 * Check `raw` (the config's `devices`): each device by the DeviceSpec schema; ids unique; vsock
 * CIDs unique (when given; absent ones are allocated at launch); at most one virtio-fs share (one
 * virtiofsd per sandbox), one balloon, one pvpanic; per-arch rules; `pmem` only on nvdimm disks; no
 * virtio-fs share, vhost-user device or free-page-reporting balloon with templating. Returns the parsed devices (all of them only when no
 * issue was recorded).
 */
export function checkDevices(issues: Issues, raw: unknown, ctx: DeviceContext): DeviceSpec[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    expected(issues, 'devices', 'an array of devices', raw);
    return [];
  }
  const devices: DeviceSpec[] = [];
  const ids = new Map<string, number>();
  const cids = new Map<number, number>();
  const once = new Map<string, number>();
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
    const single =
      device.kind === 'fs' && device.type === 'virtio-fs'
        ? { key: 'virtio-fs', what: 'virtio-fs share (one virtiofsd per sandbox)' }
        : SINGLETONS.includes(device.kind)
          ? { key: device.kind, what: `${device.kind} device (QEMU takes one)` }
          : undefined;
    if (single !== undefined) {
      const first = once.get(single.key);
      if (first !== undefined) {
        report(
          issues,
          path,
          `Expected at most one ${single.what}, got \`${path}\` besides devices[${first}]`,
        );
      } else once.set(single.key, i);
    }
    checkContext(issues, path, device, ctx);
    devices.push(device);
  });
  return devices;
}
