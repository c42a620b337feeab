// The QMP commands that hot-plug one placed DeviceSpec, in order, with their undo; and the ids of
// the backends the device record keeps for unplug. One builder per family (block, nvdimm,
// vhost-user blk, net, vfio), following govmm's `ExecuteBlockdevAdd`, `ExecuteNetPCIDeviceAdd`,
// `ExecutePCIVFIODeviceAdd`, ... and Kata's qemu.go `hotplugAddBlockDevice`/`hotplugNetDevice`.
//
// Isolated here so that it can be swapped for the builders cold plug uses (src/qemu/devices) in one place.

import type { DeviceBackends, Placement } from '../devices/record-types.js';
import type { BlockSpec, NetSpec, VfioSpec, VhostUserSpec } from '../devices/spec.js';
import type {
  QmpArgs,
  QmpBlockdevAddArgs,
  QmpCommandName,
  QmpDeviceAddArgs,
  QmpNetdevAddArgs,
} from '../qmp/commands.js';
import type { HotplugConfig } from './context.js';

/** Bus of the sandbox's virtio-scsi controller (`scsi0`, as the plan names it). */
export const SCSI_BUS = 'scsi0.0';
/** virtio-blk serials hold at most 20 bytes. */
const VIRTIO_BLK_SERIAL_MAX = 20;

/** Block node of a disk (cold and hot plug): `drive-<id>`. */
export function blockNodeName(id: string): string {
  return `drive-${id}`;
}
/** Netdev of a NIC: `net-<id>`. */
export function netdevId(id: string): string {
  return `net-${id}`;
}
/** Chardev of a vhost-user device: `char-<id>`. */
export function chardevId(id: string): string {
  return `char-${id}`;
}
/** Memory backend of an nvdimm (govmm: `nvdimmbackmem<id>`). */
export function nvdimmBackendId(id: string): string {
  return `nvdimmbackmem-${id}`;
}

/** The serial the guest sees on a virtio-blk disk (its id, cut to 20 bytes). */
export function blockSerial(id: string): string {
  return id.slice(0, VIRTIO_BLK_SERIAL_MAX);
}

/** One QMP command with its typed arguments (and fds passed with SCM_RIGHTS). */
export type QmpStep = {
  [K in QmpCommandName]: {
    readonly execute: K;
    readonly arguments: QmpArgs<K>;
    readonly fds?: readonly number[];
  };
}[QmpCommandName];

/** A command and how to take it back. `device_add` has no `undo` here: the plug flow removes devices itself. */
export interface HotplugCommand {
  readonly step: QmpStep;
  readonly undo?: QmpStep;
}

/** What one device needs: backend commands, then its `device_add`, and the backends to record. */
export interface HotplugPlan {
  readonly commands: readonly HotplugCommand[];
  readonly device: QmpDeviceAddArgs;
  readonly backends: DeviceBackends;
}

/** Facts of a device beyond its spec: a disk's host file kind, an nvdimm's size. */
export interface HostFacts {
  readonly isBlockDevice: boolean;
  readonly sizeBytes?: number;
}

function pciBus(p: Placement): { bus?: string; addr?: string } {
  return { ...(p.bus ? { bus: p.bus } : {}), ...(p.addr ? { addr: p.addr } : {}) };
}

/** blockdev-add: a format node over a file node, cache from the spec or the config (govmm `ExecuteBlockdevAddWithCache`). */
export function blockdevArgs(config: HotplugConfig, spec: BlockSpec, host: HostFacts): QmpBlockdevAddArgs {
  const cache =
    spec.cache !== undefined
      ? { direct: spec.cache.direct ?? false, 'no-flush': spec.cache.noFlush ?? false }
      : config.blockDeviceCacheSet
        ? { direct: config.blockDeviceCacheDirect, 'no-flush': config.blockDeviceCacheNoflush }
        : undefined;
  return {
    driver: spec.format ?? 'raw',
    'node-name': blockNodeName(spec.id),
    'read-only': spec.readOnly ?? false,
    ...(cache ? { cache } : {}),
    file: {
      driver: host.isBlockDevice ? 'host_device' : 'file',
      filename: spec.file,
      aio: spec.aio ?? 'threads',
    },
  };
}

/** A disk: blockdev-add, then virtio-blk-pci / scsi-hd / virtio-blk-ccw at its placement. */
export function blockPlan(
  config: HotplugConfig,
  spec: BlockSpec,
  driver: 'virtio-blk' | 'virtio-scsi' | 'virtio-blk-ccw',
  placement: Placement,
  host: HostFacts,
): HotplugPlan {
  const node = blockNodeName(spec.id);
  // Kata's qemu.go hot-plugs every disk with share-rw=on; `shareRW: false` turns it off.
  const shareRw = spec.shareRW ?? true;
  const base = { id: spec.id, drive: node, ...(shareRw ? { 'share-rw': true } : {}) };
  const device: QmpDeviceAddArgs =
    driver === 'virtio-blk'
      ? { driver: 'virtio-blk-pci', ...base, serial: blockSerial(spec.id), ...pciBus(placement) }
      : driver === 'virtio-blk-ccw'
        ? { driver: 'virtio-blk-ccw', ...base, ...(placement.devno ? { devno: placement.devno } : {}) }
        : {
            driver: 'scsi-hd',
            ...base,
            bus: placement.bus ?? SCSI_BUS,
            'scsi-id': placement.scsi?.scsiId ?? 0,
            lun: placement.scsi?.lun ?? 0,
          };
  return {
    commands: [
      {
        step: { execute: 'blockdev-add', arguments: blockdevArgs(config, spec, host) },
        undo: { execute: 'blockdev-del', arguments: { 'node-name': node } },
      },
    ],
    device,
    backends: { node },
  };
}

/** An nvdimm: a shared memory-backend-file over the file, then `nvdimm` (govmm's nvdimm Object). */
export function nvdimmPlan(spec: BlockSpec, host: HostFacts): HotplugPlan {
  const backendId = nvdimmBackendId(spec.id);
  return {
    commands: [
      {
        step: {
          execute: 'object-add',
          arguments: {
            'qom-type': 'memory-backend-file',
            id: backendId,
            'mem-path': spec.file,
            size: host.sizeBytes ?? 0,
            share: true,
            ...(spec.pmem !== undefined ? { pmem: spec.pmem } : {}),
            ...(spec.readOnly ? { readonly: true } : {}),
          },
        },
        undo: { execute: 'object-del', arguments: { id: backendId } },
      },
    ],
    device: { driver: 'nvdimm', id: spec.id, memdev: backendId },
    backends: { objects: [backendId] },
  };
}

/** vhost-user-blk: chardev-add (a client socket; QEMU 7.2 refuses `wait` on one) then vhost-user-blk-pci. */
export function vhostUserBlkPlan(spec: VhostUserSpec, placement: Placement): HotplugPlan {
  const chardev = chardevId(spec.id);
  return {
    commands: [
      {
        step: {
          execute: 'chardev-add',
          arguments: {
            id: chardev,
            backend: {
              type: 'socket',
              data: { addr: { type: 'unix', data: { path: spec.socketPath } }, server: false },
            },
          },
        },
        undo: { execute: 'chardev-remove', arguments: { id: chardev } },
      },
    ],
    device: { driver: 'vhost-user-blk-pci', id: spec.id, chardev, ...pciBus(placement) },
    backends: { chardev },
  };
}

/**
 * A NIC: each tap fd (and vhost fd) passed with SCM_RIGHTS and named with `getfd`
 * (`fd-<id>-<n>`, `vhostfd-<id>-<n>`), netdev_add tap by those names or by `ifname`, then
 * virtio-net-pci (or -ccw) with MAC, `mq=on` and `vectors=2N+2` (Kata's qemu.go `hotplugNetDevice`).
 */
export function netPlan(spec: NetSpec, ccw: boolean, placement: Placement): HotplugPlan {
  const netdev = netdevId(spec.id);
  const queues = spec.queues ?? spec.fds?.length ?? 1;
  const commands: HotplugCommand[] = [];
  const getfd = (prefix: string, fds: readonly number[] | undefined): string[] =>
    (fds ?? []).map((fd, i) => {
      const fdname = `${prefix}-${spec.id}-${i}`;
      commands.push({
        step: { execute: 'getfd', arguments: { fdname }, fds: [fd] },
        undo: { execute: 'closefd', arguments: { fdname } },
      });
      return fdname;
    });
  const fdNames = getfd('fd', spec.fds);
  const vhostNames = spec.vhost === false ? [] : getfd('vhostfd', spec.vhostFds);
  const netdevArgs: QmpNetdevAddArgs =
    fdNames.length > 0
      ? {
          type: 'tap',
          id: netdev,
          fds: fdNames.join(':'),
          ...(vhostNames.length > 0 ? { vhost: true, vhostfds: vhostNames.join(':') } : {}),
        }
      : {
          type: 'tap',
          id: netdev,
          ifname: spec.ifname ?? '',
          script: 'no',
          downscript: 'no',
          ...(queues > 1 ? { queues } : {}),
        };
  commands.push({
    step: { execute: 'netdev_add', arguments: netdevArgs },
    undo: { execute: 'netdev_del', arguments: { id: netdev } },
  });
  const device: QmpDeviceAddArgs = {
    driver: ccw ? 'virtio-net-ccw' : 'virtio-net-pci',
    id: spec.id,
    netdev,
    ...(spec.mac ? { mac: spec.mac } : {}),
    ...(ccw ? (placement.devno ? { devno: placement.devno } : {}) : { ...pciBus(placement), romfile: '' }),
    mq: true,
    // 2N+2 vectors: N tx queues, N rx queues, one for config, one for a possible control vq.
    ...(ccw ? {} : { vectors: 2 * queues + 2 }),
  };
  return {
    commands,
    device,
    backends: { netdev, fdNames: [...fdNames, ...vhostNames] },
  };
}

/** VFIO: vfio-pci by host BDF or mediated sysfs path (govmm `ExecutePCIVFIODeviceAdd` / `...MediatedDeviceAdd`). */
export function vfioPlan(spec: VfioSpec, placement: Placement): HotplugPlan {
  const mediated = spec.mediated ?? spec.sysfsDev !== undefined;
  return {
    commands: [],
    device: {
      driver: 'vfio-pci',
      id: spec.id,
      ...(mediated ? { sysfsdev: spec.sysfsDev ?? '' } : { host: spec.bdf ?? '' }),
      ...pciBus(placement),
      romfile: '',
    },
    backends: {},
  };
}
