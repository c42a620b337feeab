// Maps a validated sandbox config (src/config) onto the plan's normalized PlanSpec and QemuDevices.
import { createHash } from 'node:crypto';
import { buildKernelParams } from '../config/kernel-params.js';
import type {
  BlockDeviceSpec,
  ColdPlugDevice,
  HypervisorConfig,
  NetDeviceSpec,
  ValidatedConfig,
} from '../config/types.js';
import type { BlockDevice, QemuDevice } from './devices/types.js';
import { PlanError } from './errors.js';
import type { PlanSpec } from './plan-spec.js';

/** Host facts and launcher choices the config does not carry. */
export interface PlanConfigOptions {
  /** `-uuid` of the VM; default {@link stableUuid} of the sandbox id (Kata generates one and persists it). */
  readonly uuid?: string;
  /** Running nested inside a VM (Kata's RunningOnVMM); ignored when `disableNestingChecks`. */
  readonly nested?: boolean;
  /** Guest CID of the agent's vsock when `useVSock` and no vsock device is given. */
  readonly vsockContextId?: number;
  /** Size in bytes of a file used as an nvdimm backend (the image, pmem disks); the caller stats it. */
  readonly sizeOf?: (path: string) => number | undefined;
  /** The full kernel command line; default: src/config's `buildKernelParams` (Kata's kernelParameters()). */
  readonly kernelParams?: string;
}

/**
 * A stable UUID (version-5 layout, SHA-1 of the sandbox id) so a sandbox keeps its `-uuid` across
 * plans and the printed plan is reproducible.
 *
 * @example
 * stableUuid('sb1') // => 'xxxxxxxx-xxxx-5xxx-yxxx-xxxxxxxxxxxx'
 */
export function stableUuid(id: string): string {
  const h = createHash('sha1').update(`vmactor:${id}`).digest();
  h[6] = ((h[6] as number) & 0x0f) | 0x50;
  h[8] = ((h[8] as number) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** Kata's `GetSCSIIdLun`: SCSI target id and LUN of the n-th disk (256 LUNs per target). */
export function scsiIdLun(index: number): { scsiId: number; lun: number } {
  return { scsiId: Math.floor(index / 256), lun: index % 256 };
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

function blockCache(
  spec: BlockDeviceSpec,
  hv: HypervisorConfig,
  where: string,
): { direct?: boolean; noFlush?: boolean } | undefined {
  switch (spec.cache) {
    case undefined:
      return hv.blockDeviceCacheSet
        ? { direct: hv.blockDeviceCacheDirect, noFlush: hv.blockDeviceCacheNoflush }
        : undefined;
    case 'none':
      return { direct: true };
    case 'writeback':
      return { direct: false };
    case 'unsafe':
      return { direct: false, noFlush: true };
    default:
      throw new PlanError(
        `Expected \`${where}.cache\` to be none, writeback or unsafe (cache.direct/cache.no-flush), got \`${spec.cache}\``,
      );
  }
}

function convertBlock(
  spec: BlockDeviceSpec,
  hv: HypervisorConfig,
  where: string,
  scsiIndex: () => number,
  sizeOf: PlanConfigOptions['sizeOf'],
): QemuDevice {
  const driver = spec.driver ?? hv.blockDeviceDriver;
  if (driver === 'nvdimm') {
    if (hv.arch === 's390x') {
      throw new PlanError(
        `Expected \`${where}.driver\` to be a driver s390x has: no nvdimm there, got nvdimm`,
      );
    }
    const size = sizeOf?.(spec.file);
    if (size === undefined) {
      throw new PlanError(`Expected the size of \`${where}.file\` for an nvdimm backend (pass \`sizeOf\`)`);
    }
    return {
      type: 'nvdimm',
      id: `mem-${spec.id}`,
      deviceId: spec.id,
      memPath: spec.file,
      size,
      ...(spec.readOnly ? { readOnly: true } : {}),
    };
  }
  const common = {
    type: 'block' as const,
    id: spec.id,
    file: spec.file,
    format: spec.format ?? 'raw',
    aio: spec.aio ?? 'threads',
    ...(spec.shareRW ? { shareRW: true } : {}),
    ...(spec.readOnly ? { readOnly: true } : {}),
  };
  const cache = blockCache(spec, hv, where);
  const withCache = cache ? { ...common, cache } : common;
  switch (driver) {
    case 'virtio-scsi':
      return {
        ...withCache,
        driver: 'scsi-hd',
        scsi: { bus: 'scsi0.0', ...scsiIdLun(scsiIndex()) },
      } satisfies BlockDevice;
    case 'virtio-blk':
      return { ...withCache, driver: 'virtio-blk' } satisfies BlockDevice;
    case 'virtio-blk-ccw':
      if (hv.arch !== 's390x') {
        throw new PlanError(`Expected \`${where}.driver\` virtio-blk-ccw only on s390x, got arch ${hv.arch}`);
      }
      return { ...withCache, driver: 'virtio-blk', transport: 'ccw' } satisfies BlockDevice;
    case 'virtio-mmio':
      if (hv.arch !== 'arm64') {
        throw new PlanError(
          `Expected \`${where}.driver\` virtio-mmio only on arm64 virt, got arch ${hv.arch}`,
        );
      }
      return { ...withCache, driver: 'virtio-blk', transport: 'mmio' } satisfies BlockDevice;
  }
}

function convertNet(spec: NetDeviceSpec, hv: HypervisorConfig, sandboxId: string, index: number): QemuDevice {
  return {
    type: 'net',
    netType: 'tap',
    driver: 'virtio-net',
    id: spec.id,
    deviceId: spec.id,
    // With fds the name is unused (QEMU takes the open tap); Kata names taps tap<N>_kata.
    ifname: spec.ifname ?? `tap${index}_kata`,
    mac: spec.mac ?? defaultMac(sandboxId, spec.id),
    vhost: spec.vhost ?? !hv.disableVhostNet,
    ...(spec.fds !== undefined ? { fds: spec.fds } : {}),
    ...(spec.vhostFds !== undefined ? { vhostFds: spec.vhostFds } : {}),
    ...(spec.queues !== undefined ? { queues: spec.queues } : {}),
    ...(spec.fds === undefined ? { script: 'no', downScript: 'no' } : {}),
  };
}

/**
 * The plan's normalized input for a validated config.
 *
 * @example
 * const spec = planSpecFromConfig(validateConfig(input), { uuid: randomUUID() });
 */
export function planSpecFromConfig(config: ValidatedConfig, opts: PlanConfigOptions = {}): PlanSpec {
  const hv = config.hypervisor;
  const devices: QemuDevice[] = [];
  let scsiDisks = 0;
  let netIndex = 0;
  let virtioFs: PlanSpec['virtioFs'];
  const iommuPlatform = hv.iommuPlatform ? { iommuPlatform: true } : {};

  config.devices.forEach((d: ColdPlugDevice, i) => {
    const where = `devices[${i}]`;
    switch (d.kind) {
      case 'block':
        devices.push(convertBlock(d, hv, where, () => scsiDisks++, opts.sizeOf));
        break;
      case 'net':
        devices.push({ ...convertNet(d, hv, config.id, netIndex++), ...iommuPlatform } as QemuDevice);
        break;
      case 'fs':
        if (d.type === 'virtio-fs') {
          if (virtioFs) {
            throw new PlanError(
              `Expected at most one virtio-fs share (one virtiofsd per sandbox), got another at ${where}`,
            );
          }
          virtioFs = {
            deviceId: d.id,
            tag: d.tag,
            source: d.sharedDir,
            daemon: hv.virtioFSDaemon,
            cache: d.cache ?? hv.virtioFSCache,
            cacheSize: d.cacheSize ?? hv.virtioFSCacheSize,
            extraArgs: d.extraArgs ?? hv.virtioFSExtraArgs,
            ...(d.queueSize !== undefined ? { queueSize: d.queueSize } : {}),
          };
        } else {
          if (d.readOnly) {
            throw new PlanError(
              `Expected \`${where}.readOnly\` to be false: read-only 9p shares are not built yet`,
            );
          }
          devices.push({
            type: 'fs',
            fsType: 'virtio-9p',
            id: d.id,
            path: d.path,
            mountTag: d.tag,
            securityModel: d.securityModel === 'mapped' ? 'mapped-xattr' : (d.securityModel ?? 'none'),
            multidev: 'remap',
            ...iommuPlatform,
          });
        }
        break;
      case 'vhost-user':
        devices.push({
          type: 'vhost-user',
          vhostType: d.type,
          socketPath: d.socketPath,
          charDevId: `char-${d.id}`,
          typeDevId: d.id,
          ...(d.mac !== undefined
            ? { mac: d.mac }
            : d.type === 'net'
              ? { mac: defaultMac(config.id, d.id) }
              : {}),
          ...(d.tag !== undefined ? { tag: d.tag } : {}),
          ...(d.cacheSize ? { cacheSize: d.cacheSize } : {}),
        });
        break;
      case 'vfio':
        devices.push({
          type: 'vfio',
          id: d.id,
          ...(d.bdf !== undefined ? { bdf: d.bdf } : {}),
          ...(d.sysfsDev !== undefined ? { sysfsDev: d.sysfsDev } : {}),
        });
        break;
      case 'vsock':
        devices.push({
          type: 'vsock',
          id: d.id,
          contextId: d.contextId,
          ...(d.vhostFd !== undefined ? { vhostFd: d.vhostFd } : {}),
        });
        break;
      case 'rng':
        devices.push({
          type: 'rng',
          id: d.id,
          deviceId: d.id,
          filename: d.path ?? hv.entropySource,
          ...iommuPlatform,
        });
        break;
    }
  });

  const template = hv.bootToBeTemplate ? 'to-be' : hv.bootFromTemplate ? 'from' : 'none';
  return {
    id: config.id,
    uuid: opts.uuid ?? stableUuid(config.id),
    arch: hv.arch,
    ...(hv.hypervisorPath ? { qemuPath: hv.hypervisorPath } : {}),
    ...(hv.hypervisorMachineType ? { machineType: hv.hypervisorMachineType } : {}),
    ...(hv.machineAccelerators ? { machineAccelerators: hv.machineAccelerators } : {}),
    ...(hv.cpuFeatures ? { cpuFeatures: hv.cpuFeatures } : {}),
    vcpus: hv.numVCPUs,
    maxVcpus: hv.defaultMaxVCPUs,
    memoryMiB: hv.memorySize,
    memSlots: hv.memSlots,
    memOffsetMiB: hv.memOffset,
    defaultBridges: hv.defaultBridges,
    blockDeviceDriver: hv.blockDeviceDriver,
    enableIOThreads: hv.enableIOThreads,
    kernel: hv.kernelPath,
    ...(hv.initrdPath ? { initrd: hv.initrdPath } : {}),
    ...(hv.imagePath ? { image: hv.imagePath } : {}),
    ...(hv.imagePath && opts.sizeOf?.(hv.imagePath) !== undefined
      ? { imageSizeBytes: opts.sizeOf(hv.imagePath) as number }
      : {}),
    disableImageNvdimm: hv.disableImageNvdimm,
    kernelParams: opts.kernelParams ?? buildKernelParams(hv).cmdline,
    ...(hv.firmwarePath ? { firmware: hv.firmwarePath } : {}),
    ...(hv.pflash.length > 0 ? { pflash: hv.pflash } : {}),
    sharedMemory: hv.sharedFS === 'virtio-fs' || virtioFs !== undefined,
    ...(virtioFs ? { virtioFs } : {}),
    hugePages: hv.hugePages,
    memPrealloc: hv.memPrealloc,
    ...(hv.fileBackedMemRootDir ? { fileBackedMemRootDir: hv.fileBackedMemRootDir } : {}),
    realtime: hv.realtime,
    // Kata: memory locking is only active with realtime.
    mlock: hv.realtime && hv.mlock,
    template,
    ...(hv.memoryPath ? { memoryPath: hv.memoryPath } : {}),
    enableVhostUserStore: hv.enableVhostUserStore,
    entropySource: hv.entropySource,
    useVsock: hv.useVSock,
    ...(opts.vsockContextId !== undefined ? { vsockContextId: opts.vsockContextId } : {}),
    pcieRootPorts: hv.pcieRootPort,
    ...(hv.seccompSandbox !== undefined ? { seccompSandbox: hv.seccompSandbox } : {}),
    debug: hv.debug,
    nested: opts.nested === true && !hv.disableNestingChecks,
    iommu: hv.iommu,
    iommuPlatform: hv.iommuPlatform,
    ...(hv.hypervisorParams.length > 0 ? { hypervisorParams: hv.hypervisorParams } : {}),
    devices,
  };
}
