// Types of vmactor's sandbox and hypervisor configuration (the seeds' HypervisorConfig, camelCased).

/** A kernel or hypervisor parameter: `key=value`, or a bare `key` when `value` is empty. */
export interface Param {
  readonly key: string;
  readonly value: string;
}

/** Guest/host architecture, named like Go's GOARCH (as the seeds do). */
export type Arch = 'amd64' | 'arm64' | 'ppc64le' | 's390x';

/** Every architecture vmactor knows, in a stable order. */
export const ARCHES: readonly Arch[] = ['amd64', 'arm64', 'ppc64le', 's390x'];

/** Block device driver used for the rootfs image and for block devices (seeds: BlockDeviceDriver). */
export type BlockDeviceDriver = 'virtio-scsi' | 'virtio-blk' | 'virtio-blk-ccw' | 'virtio-mmio' | 'nvdimm';

/** Every block device driver, in a stable order. */
export const BLOCK_DEVICE_DRIVERS: readonly BlockDeviceDriver[] = [
  'virtio-scsi',
  'virtio-blk',
  'virtio-blk-ccw',
  'virtio-mmio',
  'nvdimm',
];

/** Shared file system between host and guest (seeds: SharedFS). `none` disables sharing. */
export type SharedFS = 'virtio-9p' | 'virtio-fs' | 'none';

/** Every shared-fs kind, in a stable order. */
export const SHARED_FS_KINDS: readonly SharedFS[] = ['virtio-9p', 'virtio-fs', 'none'];

/**
 * The normalized hypervisor configuration: every field of the seeds' `HypervisorConfig` that
 * applies to QEMU, with defaults applied. Produced by `validateConfig`, never built by hand.
 * Sizes are MiB unless noted.
 */
export interface HypervisorConfig {
  /** Guest architecture; selects machine type, QEMU binary and kernel params. */
  readonly arch: Arch;
  /** Number of vCPUs at boot (seeds: NumVCPUs). */
  readonly numVCPUs: number;
  /** Maximum vCPUs (hotplug limit, `-smp maxcpus`, kernel `nr_cpus`). */
  readonly defaultMaxVCPUs: number;
  /** Guest memory at boot, MiB (seeds: MemorySize). */
  readonly memorySize: number;
  /** Number of PCI bridges for hotplug. */
  readonly defaultBridges: number;
  /** msize for 9p shares (0 when virtio-fs is used). */
  readonly msize9p: number;
  /** Memory hotplug slots (`-m slots=`). */
  readonly memSlots: number;
  /** Extra memory space (MiB) reserved for nvdimm devices (added to maxmem). */
  readonly memOffset: number;
  /** virtio-fs DAX cache size, MiB (0 = no DAX). */
  readonly virtioFSCacheSize: number;
  /** Additional guest kernel parameters from the user; appended last so they win. */
  readonly kernelParams: readonly Param[];
  /** Additional hypervisor (QEMU) parameters. */
  readonly hypervisorParams: readonly Param[];
  /** Guest kernel host path. */
  readonly kernelPath: string;
  /** Guest rootfs image host path ('' when an initrd is used). */
  readonly imagePath: string;
  /** Guest initrd host path ('' when an image is used). */
  readonly initrdPath: string;
  /** Firmware (BIOS) host path ('' = QEMU's default). */
  readonly firmwarePath: string;
  /** Machine accelerators, comma-separated (e.g. `nvdimm=on`). */
  readonly machineAccelerators: string;
  /** CPU features, comma-separated (e.g. `pmu=off`). */
  readonly cpuFeatures: string;
  /** QEMU executable. */
  readonly hypervisorPath: string;
  /** Block device driver. */
  readonly blockDeviceDriver: BlockDeviceDriver;
  /** QEMU machine type (e.g. `q35`, `virt`, `pseries`, `s390-ccw-virtio`). */
  readonly hypervisorMachineType: string;
  /** VM memory file for templating ('' unless templating). */
  readonly memoryPath: string;
  /** VM device state file for templating ('' unless booting from a template). */
  readonly devicesStatePath: string;
  /** Host entropy source for virtio-rng. */
  readonly entropySource: string;
  /** Shared file system kind. */
  readonly sharedFS: SharedFS;
  /** virtiofsd executable. */
  readonly virtioFSDaemon: string;
  /** virtiofsd cache mode (`none`, `auto`, `always`). */
  readonly virtioFSCache: string;
  /** Extra virtiofsd arguments. */
  readonly virtioFSExtraArgs: readonly string[];
  /** Root dir for a file-backed memory backend ('' = none). */
  readonly fileBackedMemRootDir: string;
  /** pflash image paths. */
  readonly pflash: readonly string[];
  /** Whether cache options are set on block devices. */
  readonly blockDeviceCacheSet: boolean;
  /** O_DIRECT for block devices (cache.direct). */
  readonly blockDeviceCacheDirect: boolean;
  /** Ignore flush requests (cache.no-flush). */
  readonly blockDeviceCacheNoflush: boolean;
  /** Disallow block devices for container rootfs. */
  readonly disableBlockDeviceUse: boolean;
  /** IO threads for virtio-scsi. */
  readonly enableIOThreads: boolean;
  /** Debug output in hypervisor and kernel params. */
  readonly debug: boolean;
  /** Pre-allocate guest memory. */
  readonly memPrealloc: boolean;
  /** Back guest memory with huge pages. */
  readonly hugePages: boolean;
  /** Enable virtio-mem. */
  readonly virtioMem: boolean;
  /** Add a vIOMMU. */
  readonly iommu: boolean;
  /** IOMMU_PLATFORM on supported devices. */
  readonly iommuPlatform: boolean;
  /** Realtime (`-realtime` / `-overcommit`). */
  readonly realtime: boolean;
  /** Lock memory when realtime. */
  readonly mlock: boolean;
  /** Skip nested-virtualization customizations. */
  readonly disableNestingChecks: boolean;
  /** Use vsock for the agent (seeds: HypervisorConfig.UseVSock in 2020 trees). */
  readonly useVSock: boolean;
  /** Do not use nvdimm for the rootfs image. */
  readonly disableImageNvdimm: boolean;
  /** Hotplug VFIO devices on the root bus instead of a bridge. */
  readonly hotplugVFIOOnRootBus: boolean;
  /** Number of PCIe root ports (q35). */
  readonly pcieRootPort: number;
  /** Boot this VM to become a template. */
  readonly bootToBeTemplate: boolean;
  /** Boot this VM from a template. */
  readonly bootFromTemplate: boolean;
  /** Host lacks vhost-net: use plain tap. */
  readonly disableVhostNet: boolean;
  /** Enable vhost-user block/scsi store. */
  readonly enableVhostUserStore: boolean;
  /** Directory for vhost-user sockets and device nodes. */
  readonly vhostUserStorePath: string;
  /** Host directory for guest memory dumps on panic ('' = no dump). */
  readonly guestMemoryDumpPath: string;
  /** Paging for `dump-guest-memory`. */
  readonly guestMemoryDumpPaging: boolean;
  /** QEMU `-sandbox` seccomp option value (e.g. `on,obsolete=deny`); absent = no `-sandbox`. */
  readonly seccompSandbox?: string;
}

/**
 * What a user may give for the hypervisor: a partial `HypervisorConfig`, mutable arrays
 * allowed. Missing fields get defaults; `kernelPath` (and an image or initrd) may come from
 * `validateConfig`'s `opts.defaults`.
 */
export type HypervisorConfigInput = {
  -readonly [K in keyof HypervisorConfig]?: HypervisorConfig[K] extends readonly (infer E)[]
    ? E[]
    : HypervisorConfig[K];
};

// ---------------------------------------------------------------------------------------------
// Cold-plug device descriptors (JSON-friendly: plain data, discriminated on `kind`).
// ---------------------------------------------------------------------------------------------

/** QEMU block AIO backend. */
export type BlockAio = 'threads' | 'native' | 'io_uring';

/** Host page cache mode for a block device (QEMU `cache=`). */
export type BlockCache = 'none' | 'writeback' | 'writethrough' | 'directsync' | 'unsafe';

/** A file (or host block device) attached as a disk. */
export interface BlockDeviceSpec {
  readonly kind: 'block';
  /** Device id (QEMU id / node name stem). */
  readonly id: string;
  /** Host path of the backing file or block device. */
  readonly file: string;
  /** Image format; default `raw`. */
  readonly format?: 'raw' | 'qcow2';
  /** Driver override; default the hypervisor's `blockDeviceDriver`. */
  readonly driver?: BlockDeviceDriver;
  /** Read-only attach. */
  readonly readOnly?: boolean;
  /** Allow sharing with other writers (`share-rw=on`). */
  readonly shareRW?: boolean;
  /** AIO backend. */
  readonly aio?: BlockAio;
  /** Cache mode; default derives from `blockDeviceCache*`. */
  readonly cache?: BlockCache;
}

/** A tap network interface. Give `ifname` (QEMU opens it) or `fds` (pre-opened tap fds). */
export interface NetDeviceSpec {
  readonly kind: 'net';
  readonly id: string;
  /** Host tap interface name (≤ 15 bytes). */
  readonly ifname?: string;
  /** Pre-opened tap fds (one per queue), passed to QEMU. */
  readonly fds?: readonly number[];
  /** Guest MAC address `aa:bb:cc:dd:ee:ff`. */
  readonly mac?: string;
  /** Number of queue pairs (multiqueue); default 1. */
  readonly queues?: number;
  /** Use vhost-net; default `!disableVhostNet`. */
  readonly vhost?: boolean;
  /** Pre-opened vhost fds (one per queue). */
  readonly vhostFds?: readonly number[];
}

/** A virtio-fs share served by virtiofsd (which vmactor launches). */
export interface VirtioFsDeviceSpec {
  readonly kind: 'fs';
  readonly type: 'virtio-fs';
  readonly id: string;
  /** Mount tag seen by the guest. */
  readonly tag: string;
  /** Host directory to share. */
  readonly sharedDir: string;
  /** virtiofsd cache mode; default the hypervisor's `virtioFSCache`. */
  readonly cache?: string;
  /** DAX window size, MiB; default the hypervisor's `virtioFSCacheSize`. */
  readonly cacheSize?: number;
  /** Extra virtiofsd arguments; default the hypervisor's `virtioFSExtraArgs`. */
  readonly extraArgs?: readonly string[];
  /** Queue size; default QEMU's. */
  readonly queueSize?: number;
}

/** 9p security model (QEMU `security_model=`). */
export type NinePSecurityModel = 'none' | 'passthrough' | 'mapped' | 'mapped-xattr' | 'mapped-file';

/** A virtio-9p share. */
export interface NinePDeviceSpec {
  readonly kind: 'fs';
  readonly type: 'virtio-9p';
  readonly id: string;
  readonly tag: string;
  /** Host directory to share. */
  readonly path: string;
  /** Default `none`. */
  readonly securityModel?: NinePSecurityModel;
  /** Read-only share. */
  readonly readOnly?: boolean;
  /** msize; default the hypervisor's `msize9p`. */
  readonly msize?: number;
}

/** A shared file system device. */
export type FsDeviceSpec = VirtioFsDeviceSpec | NinePDeviceSpec;

/** Kind of vhost-user backend. */
export type VhostUserType = 'blk' | 'scsi' | 'net' | 'fs';

/** A vhost-user device whose backend listens on a Unix socket. */
export interface VhostUserDeviceSpec {
  readonly kind: 'vhost-user';
  readonly type: VhostUserType;
  readonly id: string;
  /** Backend's Unix socket path (≤ 107 bytes). */
  readonly socketPath: string;
  /** Guest MAC (net only). */
  readonly mac?: string;
  /** Mount tag (fs only). */
  readonly tag?: string;
  /** DAX cache size MiB (fs only). */
  readonly cacheSize?: number;
}

/** A VFIO passthrough device: `bdf` (`0000:01:00.0`) or `sysfsDev` (mediated devices). */
export interface VfioDeviceSpec {
  readonly kind: 'vfio';
  readonly id: string;
  /** Host PCI address, `DDDD:BB:DD.F` or `BB:DD.F`. */
  readonly bdf?: string;
  /** Host sysfs path (e.g. `/sys/bus/mdev/devices/<uuid>`). */
  readonly sysfsDev?: string;
  /** Mediated device (use `sysfsdev=`). */
  readonly mediated?: boolean;
}

/** A vhost-vsock device. */
export interface VsockDeviceSpec {
  readonly kind: 'vsock';
  readonly id: string;
  /** Guest context id (≥ 3). */
  readonly contextId: number;
  /** Pre-opened /dev/vhost-vsock fd. */
  readonly vhostFd?: number;
}

/** A virtio-rng device. */
export interface RngDeviceSpec {
  readonly kind: 'rng';
  readonly id: string;
  /** Host entropy source; default the hypervisor's `entropySource`. */
  readonly path?: string;
}

/** A device given by the user before start (cold-plugged) or later (hot-plugged). */
export type ColdPlugDevice =
  | BlockDeviceSpec
  | NetDeviceSpec
  | FsDeviceSpec
  | VhostUserDeviceSpec
  | VfioDeviceSpec
  | VsockDeviceSpec
  | RngDeviceSpec;

/** The `kind` discriminant of devices. */
export type DeviceKind = ColdPlugDevice['kind'];

/** What a user passes: an id, optional hypervisor settings, optional devices. JSON-friendly. */
export interface SandboxConfig {
  /** Sandbox id, ASCII `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`, no `..`. */
  readonly id: string;
  readonly hypervisor?: HypervisorConfigInput;
  readonly devices?: readonly ColdPlugDevice[];
}

/** The normalized result of `validateConfig`: defaults applied, every rule checked. */
export interface ValidatedConfig {
  readonly id: string;
  readonly hypervisor: HypervisorConfig;
  readonly devices: readonly ColdPlugDevice[];
}

/** One problem found in a config: where (`hypervisor.memorySize`, `devices[2].file`) and what. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/** Something a loader noticed but did not fail on: an ignored or unknown key, or a value Kata would adjust. */
export interface ConfigWarning {
  /** Where, e.g. `hypervisor.qemu.valid_hypervisor_paths`. */
  readonly key: string;
  readonly kind: 'ignored' | 'unknown' | 'adjusted';
  readonly reason: string;
}
