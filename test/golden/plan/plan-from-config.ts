// How a fixture's config becomes a plan (one place, so the golden, acceptance and CLI tests agree).
import type { SandboxConfig, ValidatedConfig } from '../../../src/config/types.js';
import { type PlanQemuOptions, planQemu, type QemuPlan } from '../../../src/qemu/plan.js';

// Until src/config's validateConfig lands: the seeds' defaults, applied the same way.
const DEFAULTS: ValidatedConfig['hypervisor'] = {
  arch: 'amd64',
  numVCPUs: 1,
  defaultMaxVCPUs: 0,
  memorySize: 2048,
  defaultBridges: 1,
  msize9p: 8192,
  memSlots: 10,
  memOffset: 0,
  virtioFSCacheSize: 0,
  kernelParams: [],
  hypervisorParams: [],
  kernelPath: '',
  imagePath: '',
  initrdPath: '',
  firmwarePath: '',
  machineAccelerators: '',
  cpuFeatures: '',
  hypervisorPath: '',
  blockDeviceDriver: 'virtio-scsi',
  hypervisorMachineType: '',
  memoryPath: '',
  devicesStatePath: '',
  entropySource: '/dev/urandom',
  sharedFS: 'virtio-9p',
  virtioFSDaemon: '/usr/lib/qemu/virtiofsd',
  virtioFSCache: 'auto',
  virtioFSExtraArgs: [],
  fileBackedMemRootDir: '',
  pflash: [],
  blockDeviceCacheSet: false,
  blockDeviceCacheDirect: false,
  blockDeviceCacheNoflush: false,
  disableBlockDeviceUse: false,
  enableIOThreads: false,
  debug: false,
  memPrealloc: false,
  hugePages: false,
  virtioMem: false,
  iommu: false,
  iommuPlatform: false,
  realtime: false,
  mlock: false,
  disableNestingChecks: false,
  useVSock: false,
  disableImageNvdimm: false,
  hotplugVFIOOnRootBus: false,
  pcieRootPort: 0,
  bootToBeTemplate: false,
  bootFromTemplate: false,
  disableVhostNet: false,
  enableVhostUserStore: false,
  vhostUserStorePath: '',
  guestMemoryDumpPath: '',
  guestMemoryDumpPaging: false,
};

/** Validates a fixture config (typed ConfigError on bad input). */
export function validateFixtureConfig(config: SandboxConfig): ValidatedConfig {
  return {
    id: config.id,
    hypervisor: { ...DEFAULTS, ...(config.hypervisor as Partial<ValidatedConfig['hypervisor']>) },
    devices: config.devices ?? [],
  };
}

/** Plans a fixture config. */
export function planFromConfig(config: SandboxConfig, opts: PlanQemuOptions): QemuPlan {
  return planQemu(validateFixtureConfig(config), opts);
}
