// The QMP commands that hot-plug one placed DeviceSpec, from the builders cold plug uses: the spec
// is lowered (`lowerDeviceSpec`), built (`buildQemuObjects`) and turned into ordered commands with
// their undo (`hotplugCommands`); tap and vhost fds are sent first with `getfd`.
import type { DeviceBackends, Placement } from '../devices/record-types.js';
import type { DeviceSpec } from '../devices/spec.js';
import { buildQemuObjects } from '../qemu/devices/index.js';
import { tapFdName, vhostFdName } from '../qemu/devices/names.js';
import { hotplugCommands } from '../qemu/devices/objects.js';
import { lowerDeviceSpec, specWithDefaults } from '../qemu/lower-device.js';
import type { QmpArgs, QmpCommandName, QmpDeviceAddArgs } from '../qmp/commands.js';
import type { HotplugConfig } from './context.js';

/** One QMP command with its typed arguments (and fds passed with SCM_RIGHTS). */
export type QmpStep = {
  [K in QmpCommandName]: {
    readonly execute: K;
    readonly arguments: QmpArgs<K>;
    readonly fds?: readonly number[];
  };
}[QmpCommandName];

/** A command and how to take it back. */
export interface HotplugStep {
  readonly step: QmpStep;
  readonly undo?: QmpStep;
}

/** What one device needs: backend commands (getfd first), then its `device_add`, the backends to record. */
export interface HotplugPlan {
  /** The spec with defaults applied, as the device record keeps it. */
  readonly spec: DeviceSpec;
  readonly commands: readonly HotplugStep[];
  readonly device: QmpDeviceAddArgs;
  readonly backends: DeviceBackends;
}

/** Facts of the host the lowering needs: a disk's file kind, an nvdimm's size. */
export interface HostFacts {
  readonly isBlockDevice: boolean;
  readonly sizeBytes?: number;
}

/**
 * The hot plug of `spec` at `placement`: the builder's objects as ordered QMP commands with undo
 * (chardev-add, object-add, blockdev-add, netdev_add), preceded by one `getfd` per tap fd
 * (`fd-<id>-<n>`) and vhost fd (`vhostfd-<id>-<n>`), and the `device_add` arguments. Kata's
 * qemu.go hot-plugs disks with `share-rw=on`: `shareRW` defaults to true here.
 *
 * @example
 * const plan = hotplugPlan({ kind: 'block', id: 'd1', file: '/img' }, { bus: 'pci-bridge-0', addr: '01' },
 *   config, 'sb1', { isBlockDevice: false });
 * plan.commands.map((c) => c.step.execute) // => ['blockdev-add']
 * plan.device.driver                       // => 'virtio-blk-pci'
 */
export function hotplugPlan(
  input: DeviceSpec,
  placement: Placement,
  config: HotplugConfig,
  sandboxId: string,
  host: HostFacts,
): HotplugPlan {
  const given =
    input.kind === 'block' && input.driver !== 'nvdimm' && !input.pmem
      ? { ...input, shareRW: input.shareRW ?? true }
      : input;
  const names = new Map<string, number>();
  const opts = {
    sandboxId,
    isBlockDevice: () => host.isBlockDevice,
    sizeOf: () => host.sizeBytes,
    fdRef: (hostFd: number, purpose: string, index: number): string => {
      const name = purpose === 'vhost-net' ? vhostFdName(input.id, index) : tapFdName(input.id, index);
      names.set(name, hostFd);
      return name;
    },
  };
  const spec = specWithDefaults(given, config, opts);
  const objects = buildQemuObjects(lowerDeviceSpec(spec, placement, config, opts), {
    arch: config.arch,
    machineType: config.hypervisorMachineType,
  });
  const commands: HotplugStep[] = [];
  const fdNames: string[] = [];
  for (const f of objects.fds ?? []) {
    const hostFd = typeof f.ref === 'string' ? names.get(f.ref) : undefined;
    if (typeof f.ref !== 'string' || hostFd === undefined) continue;
    fdNames.push(f.ref);
    commands.push({
      step: { execute: 'getfd', arguments: { fdname: f.ref }, fds: [hostFd] },
      undo: { execute: 'closefd', arguments: { fdname: f.ref } },
    });
  }
  let device: QmpDeviceAddArgs | undefined;
  for (const c of hotplugCommands(objects)) {
    if (c.execute === 'device_add') {
      device = c.arguments as QmpDeviceAddArgs;
      continue;
    }
    commands.push({
      step: { execute: c.execute, arguments: c.arguments } as QmpStep,
      ...(c.undo ? { undo: { execute: c.undo.execute, arguments: c.undo.arguments } as QmpStep } : {}),
    });
  }
  if (!device) throw new Error(`the builder made no device for \`${input.id}\``);
  const node = objects.blockdevs?.[0]?.['node-name'];
  const netdev = objects.netdevs?.[0]?.id;
  const chardev = objects.chardevs?.[0]?.id;
  const objectIds = (objects.objects ?? []).map((o) => o.id);
  return {
    spec,
    commands,
    device,
    backends: {
      ...(node !== undefined ? { node } : {}),
      ...(netdev !== undefined ? { netdev } : {}),
      ...(chardev !== undefined ? { chardev } : {}),
      ...(objectIds.length > 0 ? { objects: objectIds } : {}),
      ...(fdNames.length > 0 ? { fdNames } : {}),
    },
  };
}
