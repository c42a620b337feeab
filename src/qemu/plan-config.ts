// Maps a validated sandbox config (src/config) onto the plan's normalized PlanSpec; its devices become DeviceSpecs.
import { createHash } from 'node:crypto';
import { buildKernelParams } from '../config/kernel-params.js';
import type { ValidatedConfig } from '../config/types.js';
import { PlanError } from './errors.js';
import type { PlanSpec } from './plan-spec.js';

export { defaultMac } from './lower-device.js';

/** The `disable*` knobs as the spec's `omit` (absent when every default device stays). */
function omitted(hv: ValidatedConfig['hypervisor']): Pick<PlanSpec, 'omit'> {
  const omit = {
    ...(hv.disableConsole ? { console: true as const } : {}),
    ...(hv.disableRng ? { rng: true as const } : {}),
    ...(hv.disableAgentChannel ? { agentChannel: true as const } : {}),
    ...(hv.disableReattachMonitor ? { reattachMonitor: true as const } : {}),
  };
  return Object.keys(omit).length > 0 ? { omit } : {};
}

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

/**
 * The plan's normalized input for a validated config.
 *
 * @example
 * const spec = planSpecFromConfig(validateConfig(input), { uuid: randomUUID() });
 */
export function planSpecFromConfig(config: ValidatedConfig, opts: PlanConfigOptions = {}): PlanSpec {
  const hv = config.hypervisor;
  const devices = config.devices;
  let virtioFs: PlanSpec['virtioFs'];
  const fileSizes: Record<string, number> = {};
  for (const [i, d] of devices.entries()) {
    if (d.kind === 'fs' && d.type === 'virtio-fs') {
      if (virtioFs) {
        throw new PlanError(
          `Expected at most one virtio-fs share (one virtiofsd per sandbox), got another at devices[${i}]`,
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
    } else if (d.kind === 'block' && (d.driver ?? hv.blockDeviceDriver) === 'nvdimm') {
      const size = opts.sizeOf?.(d.file);
      if (size !== undefined) fileSizes[d.file] = size;
    }
  }

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
    ...omitted(hv),
    ...(opts.vsockContextId !== undefined ? { vsockContextId: opts.vsockContextId } : {}),
    pcieRootPorts: hv.pcieRootPort,
    ...(hv.seccompSandbox !== undefined ? { seccompSandbox: hv.seccompSandbox } : {}),
    debug: hv.debug,
    nested: opts.nested === true && !hv.disableNestingChecks,
    iommu: hv.iommu,
    iommuPlatform: hv.iommuPlatform,
    ...(hv.hypervisorParams.length > 0 ? { hypervisorParams: hv.hypervisorParams } : {}),
    devices,
    deviceDefaults: {
      arch: hv.arch,
      blockDeviceDriver: hv.blockDeviceDriver,
      blockDeviceCacheSet: hv.blockDeviceCacheSet,
      blockDeviceCacheDirect: hv.blockDeviceCacheDirect,
      blockDeviceCacheNoflush: hv.blockDeviceCacheNoflush,
      disableVhostNet: hv.disableVhostNet,
      entropySource: hv.entropySource,
      iommuPlatform: hv.iommuPlatform,
    },
    ...(Object.keys(fileSizes).length > 0 ? { fileSizes } : {}),
  };
}
