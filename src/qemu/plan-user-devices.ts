// Plan step "user devices": the config's devices lowered (lower-device.ts), placed, their fds
// numbered as QEMU will see them, and each one's entry in the initial device record.
import type { DeviceBackends, DeviceEntry } from '../devices/record-types.js';
import type { DeviceSpec } from '../devices/spec.js';
import { buildQemuObjects } from './devices/index.js';
import type { QemuObjects } from './devices/objects.js';
import type { DeviceContext } from './devices/types.js';
import { PlanError } from './errors.js';
import { type LowerOptions, lowerSpecUnplaced, placeDevice, specWithDefaults } from './lower-device.js';
import type { PlanPaths } from './paths.js';
import type { DevicePlacer } from './plan-placer.js';
import type { PlanSpec } from './plan-spec.js';
import type { PlannedFd } from './plan-types.js';

/** What placing the user's devices adds to the plan. */
export interface UserDevices {
  /** The fds the launcher passes, QEMU's numbers from `firstFd` on, in device order. */
  readonly fds: PlannedFd[];
  /** One record entry per device, in config order. */
  readonly entries: DeviceEntry[];
}

/** The QEMU objects behind a device, as the record keeps them for unplug. */
export function backendsOf(o: QemuObjects): DeviceBackends {
  const node = o.blockdevs?.[0]?.['node-name'];
  const netdev = o.netdevs?.[0]?.id;
  const chardev = o.chardevs?.[0]?.id;
  const objects = (o.objects ?? []).map((x) => x.id);
  return {
    ...(node !== undefined ? { node } : {}),
    ...(netdev !== undefined ? { netdev } : {}),
    ...(chardev !== undefined ? { chardev } : {}),
    ...(objects.length > 0 ? { objects } : {}),
  };
}

function isVirtioFs(d: DeviceSpec): boolean {
  return d.kind === 'fs' && d.type === 'virtio-fs';
}

/**
 * Lowers, places and records every user device. virtio-fs shares go first (right after the
 * agent channel, where Kata's createSandbox puts the shared fs); the rest keep config order.
 * Host fds from the config become QEMU's `firstFd`, `firstFd + 1`, ... (after QMP's fd); a host
 * fd given twice, or one of 0-2, is a `PlanError`.
 */
export function placeUserDevices(
  placer: DevicePlacer,
  spec: PlanSpec,
  ctx: DeviceContext,
  paths: PlanPaths,
  firstFd: number,
): UserDevices {
  const fds: PlannedFd[] = [];
  const owner = new Map<number, string>();
  let nextFd = firstFd;
  let netIndex = 0;
  const order = [...spec.devices.filter(isVirtioFs), ...spec.devices.filter((d) => !isVirtioFs(d))];
  const entries = new Map<DeviceSpec, DeviceEntry>();
  for (const s of order) {
    const opts: LowerOptions = {
      sandboxId: spec.id,
      ...(s.kind === 'net' ? { netIndex: netIndex++ } : {}),
      ...(spec.vsockContextId !== undefined ? { contextId: spec.vsockContextId } : {}),
      sizeOf: (p) => spec.fileSizes?.[p],
      ...(paths.virtiofsdSocket !== undefined ? { virtiofsdSocket: paths.virtiofsdSocket } : {}),
      fdRef: (hostFd, purpose) => {
        const other = owner.get(hostFd);
        if (hostFd < 3 || other !== undefined) {
          throw new PlanError(
            `Expected host fds to be unique and ≥ 3, got ${hostFd} for \`${s.id}\`${other !== undefined ? ` (also used by \`${other}\`)` : ''}`,
          );
        }
        owner.set(hostFd, s.id);
        const fd = nextFd++;
        fds.push({ fd, hostFd, purpose, deviceId: s.id });
        return fd;
      },
    };
    const pre = lowerSpecUnplaced(s, spec.deviceDefaults, opts);
    const placement = placer.placementOf(pre);
    const device = placeDevice(pre, placement);
    placer.add(device, placement);
    entries.set(s, {
      id: s.id,
      origin: 'cold',
      spec: specWithDefaults(s, spec.deviceDefaults, opts),
      placement,
      backends: backendsOf(buildQemuObjects(device, ctx)),
    });
  }
  return { fds, entries: spec.devices.map((s) => entries.get(s) as DeviceEntry) };
}
