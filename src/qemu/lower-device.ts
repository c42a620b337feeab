// The ONE mapping from a user's DeviceSpec (src/devices/spec.ts) to a placed QemuDevice: cold plug
// (the plan) and hot plug (src/hotplug) both call it, then `buildQemuObjects` on the result.
import { createHash } from 'node:crypto';
import type { HypervisorConfig } from '../config/types.js';
import type { Placement } from '../devices/record-types.js';
import type { BlockSpec, DeviceSpec, NetSpec, VhostUserSpec } from '../devices/spec.js';
import { chardevId, netdevId, nvdimmBackendId } from './devices/names.js';
import type { FdPurpose } from './devices/objects.js';
import type { BlockDevice, FdRef, QemuDevice, VirtioOptions } from './devices/types.js';
import { PlanError } from './errors.js';

/** Bus of the sandbox's virtio-scsi controller (`scsi0`, as the plan names it). */
export const SCSI_BUS = 'scsi0.0';

/** The hypervisor knobs device lowering reads. */
export type LowerHypervisor = Pick<
  HypervisorConfig,
  | 'arch'
  | 'blockDeviceDriver'
  | 'blockDeviceCacheSet'
  | 'blockDeviceCacheDirect'
  | 'blockDeviceCacheNoflush'
  | 'disableVhostNet'
  | 'entropySource'
  | 'iommuPlatform'
>;

/** What lowering needs beyond the spec and the hypervisor config. */
export interface LowerOptions {
  /** Sandbox id: the seed of the stable default MAC of a NIC without one. */
  readonly sandboxId: string;
  /** Index of this NIC among the sandbox's NICs: the default tap name `tap<N>_kata` (Kata's). */
  readonly netIndex?: number;
  /** The guest CID of a vsock spec without `contextId` (the host-unique allocator's answer). */
  readonly contextId?: number;
  /** Size in bytes of a file used as an nvdimm backend (the caller stats it). */
  readonly sizeOf?: (path: string) => number | undefined;
  /** True when a disk's file is a host block device (`host_device` node instead of `file`). */
  readonly isBlockDevice?: (path: string) => boolean;
  /**
   * How QEMU will refer to the controller's fd `hostFd` (the `index`-th of `purpose` in this
   * device): cold plug gives the number QEMU inherits it at (4, 5, ...), hot plug the monitor fd
   * name it sends with `getfd` (`tapFdName`, `vhostFdName`). Default: `hostFd` unchanged.
   */
  readonly fdRef?: (hostFd: number, purpose: FdPurpose, index: number) => FdRef;
  /** virtiofsd's socket (the run dir's `vhost-fs.sock`), for a virtio-fs spec. */
  readonly virtiofsdSocket?: string;
}

/**
 * A stable, locally administered unicast MAC for a NIC without one: `02:` + 5 bytes of
 * sha256(sandbox id / device id).
 *
 * @example
 * defaultMac('sb1', 'net0') // => '02:xx:xx:xx:xx:xx'
 */
export function defaultMac(sandboxId: string, deviceId: string): string {
  const h = createHash('sha256').update(`${sandboxId}/${deviceId}`).digest();
  return ['02', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** A disk's cache options: the spec's, else the hypervisor's `blockDeviceCache*` when set. */
function blockCache(spec: BlockSpec, hv: LowerHypervisor): BlockDevice['cache'] {
  if (spec.cache !== undefined) return spec.cache;
  return hv.blockDeviceCacheSet
    ? { direct: hv.blockDeviceCacheDirect, noFlush: hv.blockDeviceCacheNoflush }
    : undefined;
}

/**
 * The spec with every default filled in, as the device record keeps it: block `format`, `driver`,
 * `aio` and `cache`; net `mac` and `vhost`; vsock `contextId`; rng `path`.
 *
 * @example
 * specWithDefaults({ kind: 'rng', id: 'rng1' }, hv, { sandboxId: 'sb1' }) // => { kind: 'rng', id: 'rng1', path: '/dev/urandom' }
 */
export function specWithDefaults(spec: DeviceSpec, hv: LowerHypervisor, opts: LowerOptions): DeviceSpec {
  switch (spec.kind) {
    case 'block': {
      const cache = blockCache(spec, hv);
      return {
        ...spec,
        format: spec.format ?? 'raw',
        driver: spec.driver ?? hv.blockDeviceDriver,
        aio: spec.aio ?? 'threads',
        ...(cache !== undefined ? { cache } : {}),
      };
    }
    case 'net':
      return {
        ...spec,
        mac: spec.mac ?? defaultMac(opts.sandboxId, spec.id),
        vhost: spec.vhost ?? !hv.disableVhostNet,
      };
    case 'vsock': {
      const contextId = spec.contextId ?? opts.contextId;
      return contextId !== undefined ? { ...spec, contextId } : spec;
    }
    case 'rng':
      return { ...spec, path: spec.path ?? hv.entropySource };
    case 'vhost-user':
      return spec.type === 'net' ? { ...spec, mac: spec.mac ?? defaultMac(opts.sandboxId, spec.id) } : spec;
    default:
      return spec;
  }
}

function lowerBlock(spec: BlockSpec, hv: LowerHypervisor, opts: LowerOptions): QemuDevice {
  const driver = spec.driver ?? hv.blockDeviceDriver;
  const where = `devices.${spec.id}`;
  if (driver === 'nvdimm') {
    if (hv.arch === 's390x') {
      throw new PlanError(
        `Expected \`${where}.driver\` to be a driver s390x has: no nvdimm there, got nvdimm`,
      );
    }
    const size = opts.sizeOf?.(spec.file);
    if (size === undefined) {
      throw new PlanError(`Expected the size of \`${where}.file\` for an nvdimm backend (pass \`sizeOf\`)`);
    }
    return {
      type: 'nvdimm',
      id: nvdimmBackendId(spec.id),
      deviceId: spec.id,
      memPath: spec.file,
      size,
      // Kata's qemu.go hot plug (govmm `ExecuteNVDIMMDeviceAdd`) shares the backend: guest writes reach the file.
      share: true,
      ...(spec.pmem !== undefined ? { pmem: spec.pmem } : {}),
      ...(spec.readOnly ? { readOnly: true } : {}),
    };
  }
  const cache = blockCache(spec, hv);
  const common = {
    type: 'block' as const,
    id: spec.id,
    file: spec.file,
    format: spec.format ?? 'raw',
    aio: spec.aio ?? 'threads',
    ...(spec.shareRW ? { shareRW: true } : {}),
    ...(spec.readOnly ? { readOnly: true } : {}),
    ...(cache ? { cache } : {}),
    ...(opts.isBlockDevice?.(spec.file) ? { hostDevice: true } : {}),
  };
  switch (driver) {
    case 'virtio-scsi':
      // Placed by placeDevice (the SCSI id/LUN of the drive index).
      return { ...common, driver: 'scsi-hd', scsi: { bus: SCSI_BUS, scsiId: 0, lun: 0 } };
    case 'virtio-blk':
      return { ...common, driver: 'virtio-blk' };
    case 'virtio-blk-ccw':
      if (hv.arch !== 's390x') {
        throw new PlanError(`Expected \`${where}.driver\` virtio-blk-ccw only on s390x, got arch ${hv.arch}`);
      }
      return { ...common, driver: 'virtio-blk', transport: 'ccw' };
    case 'virtio-mmio':
      if (hv.arch !== 'arm64') {
        throw new PlanError(
          `Expected \`${where}.driver\` virtio-mmio only on arm64 virt, got arch ${hv.arch}`,
        );
      }
      return { ...common, driver: 'virtio-blk', transport: 'mmio' };
  }
}

function refs(
  hostFds: readonly number[] | undefined,
  purpose: FdPurpose,
  opts: LowerOptions,
): FdRef[] | undefined {
  return hostFds?.map((fd, i) => (opts.fdRef ? opts.fdRef(fd, purpose, i) : fd));
}

function lowerNet(spec: NetSpec, hv: LowerHypervisor, opts: LowerOptions): QemuDevice {
  const fds = refs(spec.fds, 'tap', opts);
  const vhostFds = refs(spec.vhostFds, 'vhost-net', opts);
  return {
    type: 'net',
    netType: 'tap',
    driver: 'virtio-net',
    id: netdevId(spec.id),
    deviceId: spec.id,
    // With fds the name is unused (QEMU takes the open tap); Kata names taps tap<N>_kata.
    ifname: spec.ifname ?? `tap${opts.netIndex ?? 0}_kata`,
    mac: spec.mac ?? defaultMac(opts.sandboxId, spec.id),
    vhost: spec.vhost ?? !hv.disableVhostNet,
    ...(fds !== undefined ? { fds } : {}),
    ...(vhostFds !== undefined ? { vhostFds } : {}),
    ...(spec.queues !== undefined ? { queues: spec.queues } : {}),
    ...(fds === undefined ? { script: 'no', downScript: 'no' } : {}),
    ...(hv.iommuPlatform ? { iommuPlatform: true } : {}),
  };
}

function lowerVhostUser(spec: VhostUserSpec, opts: LowerOptions): QemuDevice {
  const net = spec.type === 'net';
  return {
    type: 'vhost-user',
    vhostType: spec.type,
    socketPath: spec.socketPath,
    charDevId: chardevId(spec.id),
    typeDevId: net ? netdevId(spec.id) : spec.id,
    ...(net ? { deviceId: spec.id, mac: spec.mac ?? defaultMac(opts.sandboxId, spec.id) } : {}),
    ...(spec.tag !== undefined ? { tag: spec.tag } : {}),
    ...(spec.cacheSize ? { cacheSize: spec.cacheSize } : {}),
  };
}

/**
 * The unplaced QemuDevice of a spec (defaults from `hv`, fds through `opts.fdRef`); the plan
 * computes its placement from it, then {@link placeDevice}. {@link lowerDeviceSpec} is both.
 */
export function lowerSpecUnplaced(spec: DeviceSpec, hv: LowerHypervisor, opts: LowerOptions): QemuDevice {
  const iommuPlatform = hv.iommuPlatform ? { iommuPlatform: true } : {};
  switch (spec.kind) {
    case 'block':
      return lowerBlock(spec, hv, opts);
    case 'net':
      return lowerNet(spec, hv, opts);
    case 'fs':
      if (spec.type === 'virtio-fs') {
        if (opts.virtiofsdSocket === undefined) {
          throw new PlanError(`Expected virtiofsd's socket path for virtio-fs share \`${spec.id}\``);
        }
        return {
          type: 'vhost-user',
          vhostType: 'fs',
          socketPath: opts.virtiofsdSocket,
          charDevId: chardevId(spec.id),
          typeDevId: spec.id,
          tag: spec.tag,
          ...(spec.cacheSize ? { cacheSize: spec.cacheSize } : {}),
          ...(spec.queueSize !== undefined ? { queueSize: spec.queueSize } : {}),
        };
      }
      if (spec.readOnly) {
        throw new PlanError(
          `Expected \`devices.${spec.id}.readOnly\` to be false: read-only 9p shares are not built yet`,
        );
      }
      return {
        type: 'fs',
        fsType: 'virtio-9p',
        id: spec.id,
        path: spec.path,
        mountTag: spec.tag,
        securityModel: spec.securityModel === 'mapped' ? 'mapped-xattr' : (spec.securityModel ?? 'none'),
        multidev: 'remap',
        ...iommuPlatform,
      };
    case 'vhost-user':
      return lowerVhostUser(spec, opts);
    case 'vfio':
      return {
        type: 'vfio',
        id: spec.id,
        ...(spec.bdf !== undefined ? { bdf: spec.bdf } : {}),
        ...(spec.sysfsDev !== undefined ? { sysfsDev: spec.sysfsDev } : {}),
      };
    case 'vsock': {
      const contextId = spec.contextId ?? opts.contextId;
      if (contextId === undefined) {
        throw new PlanError(
          `Expected a guest CID for vsock \`${spec.id}\` (\`contextId\`, or the allocator's)`,
        );
      }
      const vhostFd = spec.vhostFd !== undefined ? refs([spec.vhostFd], 'vhost-vsock', opts)?.[0] : undefined;
      return { type: 'vsock', id: spec.id, contextId, ...(vhostFd !== undefined ? { vhostFd } : {}) };
    }
    case 'rng':
      return {
        type: 'rng',
        id: spec.id,
        deviceId: spec.id,
        filename: spec.path ?? hv.entropySource,
        ...iommuPlatform,
      };
    case 'balloon':
      return {
        type: 'balloon',
        id: spec.id,
        ...(spec.deflateOnOOM !== undefined ? { deflateOnOOM: spec.deflateOnOOM } : {}),
        ...(spec.freePageReporting !== undefined ? { freePageReporting: spec.freePageReporting } : {}),
      };
    case 'pvpanic':
      return { type: 'pvpanic', id: spec.id };
  }
}

/** True for devices placed on a virtio/PCI transport (bus/addr or a CCW devno). */
function hasTransport(d: QemuDevice): d is QemuDevice & VirtioOptions {
  switch (d.type) {
    case 'block':
      return d.driver !== 'scsi-hd';
    case 'net':
    case 'vhost-user':
    case 'fs':
    case 'vfio':
    case 'vsock':
    case 'rng':
    case 'balloon':
    case 'serial':
    case 'scsi-controller':
      return true;
    default:
      return false;
  }
}

/**
 * A device at its placement: bus/addr (PCI) or devno (CCW) on transport devices, the SCSI id/LUN
 * (and bus, default `scsi0.0`) on a scsi-hd disk, which must have `placement.scsi`.
 *
 * @example
 * placeDevice(disk, { bus: 'pci-bridge-0', addr: '01' })
 */
export function placeDevice(d: QemuDevice, placement: Placement): QemuDevice {
  if (d.type === 'block' && d.driver === 'scsi-hd') {
    const s = placement.scsi;
    if (s === undefined) {
      throw new PlanError(`Expected a SCSI id/LUN placement for scsi-hd disk \`${d.id}\``);
    }
    return { ...d, scsi: { bus: placement.bus ?? SCSI_BUS, scsiId: s.scsiId, lun: s.lun } };
  }
  if (!hasTransport(d)) return d;
  return {
    ...d,
    ...(placement.bus !== undefined ? { bus: placement.bus } : {}),
    ...(placement.addr !== undefined ? { addr: placement.addr } : {}),
    ...(placement.devno !== undefined ? { devno: placement.devno } : {}),
  } as QemuDevice;
}

/**
 * The placed QemuDevice of a user's device spec: defaults from the hypervisor config (block
 * driver and cache, vhost-net, entropy source, iommu_platform), unified object names (block node
 * `drive-<id>`, netdev `net-<id>`, chardev `char-<id>`, nvdimm backend `nvdimmbackmem-<id>`), fds
 * as QEMU refers to them (`opts.fdRef`), then the placement. Hot plug passes `shareRW` itself
 * when it wants Kata's hot-plug default (`share-rw=on`).
 *
 * @example
 * const dev = lowerDeviceSpec({ kind: 'block', id: 'd1', file: '/img', driver: 'virtio-scsi' },
 *   { bus: 'scsi0.0', scsi: { index: 1, scsiId: 0, lun: 1 } }, hv, { sandboxId: 'sb1' });
 * for (const c of hotplugCommands(buildQemuObjects(dev, ctx))) await qmp.execute(c.execute, c.arguments);
 */
export function lowerDeviceSpec(
  spec: DeviceSpec,
  placement: Placement,
  hv: LowerHypervisor,
  opts: LowerOptions,
): QemuDevice {
  return placeDevice(lowerSpecUnplaced(spec, hv, opts), placement);
}
