// A hypervisor config for hot-plug tests that run the operations without a planned sandbox (q35, virtio-blk).
import type { HotplugConfig } from '../../src/hotplug/index.js';

/** The hot-plug layer's view of a default q35 config, with overrides. */
export function testConfig(over: Partial<HotplugConfig> = {}): HotplugConfig {
  return {
    arch: 'amd64',
    disableVhostNet: true,
    entropySource: '/dev/urandom',
    iommuPlatform: false,
    numVCPUs: 1,
    defaultMaxVCPUs: 4,
    memorySize: 512,
    memSlots: 4,
    memOffset: 0,
    blockDeviceDriver: 'virtio-blk',
    blockDeviceCacheSet: false,
    blockDeviceCacheDirect: false,
    blockDeviceCacheNoflush: false,
    hypervisorMachineType: 'q35',
    hotplugVFIOOnRootBus: false,
    pcieRootPort: 0,
    fileBackedMemRootDir: '',
    sharedFS: 'none',
    hugePages: false,
    enableVhostUserStore: false,
    virtioMem: false,
    ...over,
  };
}
