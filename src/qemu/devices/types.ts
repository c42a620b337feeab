// Device descriptors: one plain-data variant per govmm device struct, discriminated on `type`.
//
// Field names are govmm's, camelCased. Every descriptor is pure data (JSON-serialisable): the
// golden fixtures in test/golden/devices/*.json are exactly these objects. File descriptors are the
// numbers QEMU will see (the plan assigns them) or monitor fd names (hot plug), never host handles.

import type { Arch } from '../../devices/rules.js';

/** Target architecture, named as Go's GOARCH (Kata's naming): src/devices/rules.ts's `Arch`. */
export type QemuArch = Arch;

/**
 * An fd as QEMU's option takes it: a number QEMU inherited (cold plug) or a monitor fd name given
 * with `getfd` (hot plug); tap `fds=`/`vhostfds=` and vhost-vsock `vhostfd=` accept both.
 */
export type FdRef = number | string;

/** What a builder needs to know about the VM it contributes to. */
export interface DeviceContext {
  /** Guest architecture; decides the default virtio transport (s390x → ccw). */
  readonly arch: QemuArch;
  /** `-machine` type, e.g. `q35`, `pc`, `virt`, `pseries`, `s390-ccw-virtio`, `microvm` (→ mmio). */
  readonly machineType: string;
}

/** How a virtio device is attached: govmm's `VirtioTransport`. */
export type VirtioTransport = 'pci' | 'ccw' | 'mmio';

/** Knobs shared by every virtio device (govmm: Transport, DisableModern, ROMFile, DevNo, ...). */
export interface VirtioOptions {
  /** Overrides the per-arch default transport (see transport.ts). */
  readonly transport?: VirtioTransport;
  /** PCI only: `disable-modern=on` (legacy virtio; Kata's nested-run mode). */
  readonly disableModern?: boolean;
  /** PCI only: `romfile=<value>`; the empty string disables the option ROM (Kata's default). */
  readonly romfile?: string;
  /** CCW only: the device number, e.g. `fe.0.0001`. */
  readonly devno?: string;
  /** `iommu_platform=on` (secure-execution / vIOMMU guests). */
  readonly iommuPlatform?: boolean;
  /** PCI bus to plug into, e.g. `pci-bridge-0` or `rp0` (omitted: QEMU picks). */
  readonly bus?: string;
  /** PCI slot on that bus; a hex string like govmm's bridge allocator returns (`'02'`, `'1f'`). */
  readonly addr?: string;
}

/** govmm `BlockDeviceAIO`. */
export type BlockAio = 'threads' | 'native' | 'io_uring';
/** govmm `BlockDeviceFormat`. */
export type BlockFormat = 'raw' | 'qcow2';

/** A disk on a block node `drive-<id>` (`-blockdev`/`blockdev-add`): govmm `BlockDevice` (virtio-blk or scsi-hd). */
export interface BlockDevice extends VirtioOptions {
  readonly type: 'block';
  /** The `-device` id, the stem of its node `drive-<id>` and the virtio-blk `serial` (govmm uses ID for all three). */
  readonly id: string;
  /** Host path of the image or block device. */
  readonly file: string;
  readonly format: BlockFormat;
  /** The file node's `aio`; `native` requires `cache.direct`. Default `threads` (Kata's default). */
  readonly aio?: BlockAio;
  /** `virtio-blk` (suffixed per transport), `scsi-hd` (needs `scsi`), or `virtio-blk-ccw`-style explicit names. */
  readonly driver: 'virtio-blk' | 'scsi-hd' | 'virtio-blk-pci' | 'virtio-blk-ccw' | 'virtio-blk-device';
  /** For `scsi-hd`: the controller bus (`scsi0.0`) and the target address. */
  readonly scsi?: { readonly bus: string; readonly scsiId: number; readonly lun: number };
  /** `share-rw=on` (the same image attached twice, e.g. shared between sandboxes). */
  readonly shareRW?: boolean;
  /** Read-only node (`read-only: true`). */
  readonly readOnly?: boolean;
  /** The node's `cache: { direct, no-flush }` (Kata's block_device_cache_*). */
  readonly cache?: { readonly direct?: boolean; readonly noFlush?: boolean };
  /** virtio-blk guest-visible write-cache toggle (govmm `WCE`): absent/false → `config-wce=off`, as in govmm. */
  readonly wce?: boolean;
  /** `file` is a host block device: the protocol node is `host_device`, not `file`. */
  readonly hostDevice?: boolean;
}

/** An image exposed as an NVDIMM: govmm `Object{Driver: NVDIMM, Type: memory-backend-file}`. */
export interface NvdimmDevice {
  readonly type: 'nvdimm';
  /** The memory-backend-file object id. */
  readonly id: string;
  /** The nvdimm device id. */
  readonly deviceId: string;
  /** Host path of the image. */
  readonly memPath: string;
  /** Size in bytes (the image size). */
  readonly size: number;
  /** Read-only backend + `unarmed=on` on the device. */
  readonly readOnly?: boolean;
  /** `share=on` on the backend: guest writes reach the file (a user's pmem disk; Kata's hot plug does it). */
  readonly share?: boolean;
  /** `pmem=on` on the backend (the file is on real persistent memory). */
  readonly pmem?: boolean;
}

/** govmm `SecurityModelType`. */
export type FsSecurityModel = 'none' | 'passthrough' | 'mapped-xattr' | 'mapped-file';

/** A 9p share: govmm `FSDevice` (`-fsdev local,...` + `-device virtio-9p-*`). */
export interface FsDevice extends VirtioOptions {
  readonly type: 'fs';
  readonly fsType: 'virtio-9p';
  /** The fsdev id (also its `-device` id in vmactor). */
  readonly id: string;
  /** `-fsdev` driver: govmm `FSDriver`. Default `local`. */
  readonly fsDriver?: 'local';
  /** Host directory to share. */
  readonly path: string;
  /** Tag the guest mounts (`mount -t 9p <tag>`). */
  readonly mountTag: string;
  readonly securityModel: FsSecurityModel;
  /** `multidevs=` policy when the share spans several host devices. */
  readonly multidev?: 'remap' | 'forbid' | 'warn';
}

/** govmm `CharDeviceBackend`. */
export type CharBackend = 'socket' | 'pty' | 'file' | 'stdio' | 'pipe' | 'serial' | 'tty' | 'null';

/** A chardev and the device that uses it: govmm `CharDevice`. */
export interface CharDevice extends VirtioOptions {
  readonly type: 'char';
  /**
   * `virtconsole` / `virtserialport` (ports on a virtio-serial bus), `isa-serial` / `pci-serial`
   * (emulated UARTs), or `serial` (legacy `-serial chardev:<id>`, no `-device`).
   */
  readonly driver: 'virtconsole' | 'virtserialport' | 'isa-serial' | 'pci-serial' | 'serial';
  readonly backend: CharBackend;
  /** The chardev id. */
  readonly id: string;
  /** The `-device` id (unused by `serial`). */
  readonly deviceId?: string;
  /** Socket/file/pipe/serial/tty path; unused by `pty`, `stdio`, `null`. */
  readonly path?: string;
  /** virtserialport `name=` (the guest's /dev/virtio-ports/<name>). */
  readonly name?: string;
  /** Socket backend: listen as a server (default true, never waiting: `server=on,wait=off`). */
  readonly server?: boolean;
  /** Socket backend: an already-open listening/connected socket fd instead of `path`. */
  readonly fd?: number;
}

/** The virtio-serial bus (controller): govmm `SerialDevice`. */
export interface SerialDevice extends VirtioOptions {
  readonly type: 'serial';
  readonly driver: 'virtio-serial';
  readonly id: string;
  /** `max_ports=` (govmm `MaxPorts`). */
  readonly maxPorts?: number;
}

/** A guest NIC on a tap/macvtap backend: govmm `NetDevice` (vhost-user NICs: `{ type: 'vhost-user', vhostType: 'net' }`). */
export interface NetDevice extends VirtioOptions {
  readonly type: 'net';
  /** Backend kind; macvtap is a tap backend fed by `fds` opened on /dev/tapN. */
  readonly netType: 'tap' | 'macvtap';
  /** `virtio-net` is suffixed per transport; explicit names pass through. */
  readonly driver: 'virtio-net' | 'virtio-net-pci' | 'virtio-net-ccw' | 'virtio-net-device';
  /** The netdev id (govmm gives the `-device` no id; vmactor uses `deviceId` when set). */
  readonly id: string;
  /** The `-device` id (used by hot-unplug); omitted → none. */
  readonly deviceId?: string;
  /** Host tap interface name; used only when no `fds` are given. */
  readonly ifname: string;
  /** Guest MAC, `aa:bb:cc:dd:ee:ff`. */
  readonly mac: string;
  /** Tap queue fds as QEMU sees them; one per queue. */
  readonly fds?: readonly FdRef[];
  /** vhost-net fds as QEMU sees them; one per queue (requires `vhost`). */
  readonly vhostFds?: readonly FdRef[];
  /** `vhost=on` (in-kernel virtio-net data path). */
  readonly vhost?: boolean;
  /** Queue count when no fds are passed (tap opened by QEMU with `queues=`). */
  readonly queues?: number;
  /** Tap scripts (used only without fds); default `no` for both. */
  readonly script?: string;
  readonly downScript?: string;
}

/** A vhost-user backend device: govmm `VhostUserDevice`. */
export interface VhostUserDevice extends VirtioOptions {
  readonly type: 'vhost-user';
  readonly vhostType: 'blk' | 'scsi' | 'net' | 'fs';
  /** The backend's Unix socket path (≤ 107 bytes); or give `socketFd`. */
  readonly socketPath?: string;
  /** A socket already connected to the backend, as QEMU sees it (`-chardev socket,fd=N`); instead of `socketPath`. */
  readonly socketFd?: number;
  /** The socket chardev id. */
  readonly charDevId: string;
  /** govmm `TypeDevID`: netdev id (net, required), device id (scsi, required; fs/blk optional). */
  readonly typeDevId?: string;
  /** net: guest MAC (govmm `Address`). */
  readonly mac?: string;
  /** net: the front-end's device id (govmm leaves it anonymous; vmactor's user devices have one). */
  readonly deviceId?: string;
  /** fs: the mount tag. */
  readonly tag?: string;
  /** fs: DAX window (MiB). Not in upstream QEMU 7.2: must be 0/absent (validated). */
  readonly cacheSize?: number;
  /** `queue-size=` (fs, blk). */
  readonly queueSize?: number;
  /** blk/net: number of queues (`num-queues=` / netdev `queues=`). */
  readonly numQueues?: number;
  /** Let the chardev reconnect after the backend restarts (`reconnect=<seconds>`). */
  readonly reconnect?: number;
}

/** A passed-through host device: govmm `VFIODevice` (normal by BDF, or mediated by sysfs path). */
export interface VfioDevice extends VirtioOptions {
  readonly type: 'vfio';
  /** `-device` id. */
  readonly id?: string;
  /** Host PCI address `0000:01:00.0` (normal device). */
  readonly bdf?: string;
  /** `/sys/bus/mdev/devices/<uuid>` or `/sys/bus/pci/devices/<bdf>` (mediated / by path). */
  readonly sysfsDev?: string;
  /** Override the ids the guest sees (`x-pci-vendor-id`/`x-pci-device-id`), e.g. `0x10de`. */
  readonly vendorId?: string;
  readonly deviceId?: string;
  /** `vfio-pci` (default) or `vfio-ccw`/`vfio-ap` (s390x). */
  readonly driver?: 'vfio-pci' | 'vfio-ccw' | 'vfio-ap';
}

/** A virtio-scsi controller: govmm `SCSIController` (+ its `IOThread` object). */
export interface ScsiControllerDevice extends VirtioOptions {
  readonly type: 'scsi-controller';
  readonly id: string;
  /** An iothread id; emitted as `-object iothread,id=<iothread>` before the device. */
  readonly iothread?: string;
  /** `num_queues=`. */
  readonly numQueues?: number;
}

/** A PCI-PCI or PCIe-PCI bridge: govmm `BridgeDevice`. */
export interface BridgeDevice {
  readonly type: 'bridge';
  readonly bridgeType: 'pci' | 'pcie';
  /** Parent bus, typically `pci.0` or `pcie.0`. */
  readonly bus: string;
  readonly id: string;
  /** `chassis_nr=` (pci-bridge only); unique and > 0. */
  readonly chassis: number;
  /** Standard hot-plug controller (pci-bridge only). */
  readonly shpc: boolean;
  /** Slot on the parent bus, as a decimal string (Kata's `bridgePCIStartAddr + idx`); emitted in hex. */
  readonly addr?: string;
  readonly romfile?: string;
  /** Resource reservation hints, e.g. `'1M'`, `'32M'`. */
  readonly ioReserve?: string;
  readonly memReserve?: string;
  readonly pref64Reserve?: string;
}

/** A PCIe root port for hot-plug on q35/virt: govmm `PCIeRootPortDevice`. */
export interface PcieRootPortDevice {
  readonly type: 'pcie-root-port';
  readonly id: string;
  /** Default `pcie.0`. */
  readonly bus?: string;
  /** Default `0`. */
  readonly chassis?: number;
  /** Default `0`. */
  readonly slot?: number;
  readonly multifunction?: boolean;
  /** `addr=` as QEMU takes it (`'0x1c.0x1'`, `'5'`). */
  readonly addr?: string;
  readonly busReserve?: number;
  readonly ioReserve?: string;
  readonly memReserve?: string;
  readonly pref32Reserve?: string;
  readonly pref64Reserve?: string;
  readonly romfile?: string;
}

/** A vhost-vsock device: govmm `VSOCKDevice`. */
export interface VsockDevice extends VirtioOptions {
  readonly type: 'vsock';
  readonly id: string;
  /** Guest CID, 3 ..= 0xfffffffe. */
  readonly contextId: number;
  /** An open /dev/vhost-vsock fd as QEMU sees it. */
  readonly vhostFd?: FdRef;
}

/** A virtio RNG fed by a host file: govmm `RngDevice`. */
export interface RngDevice extends VirtioOptions {
  readonly type: 'rng';
  /** The rng-random object id. */
  readonly id: string;
  /** `-device` id (omitted → none). */
  readonly deviceId?: string;
  /** Default `/dev/urandom`. */
  readonly filename?: string;
  readonly maxBytes?: number;
  /** Milliseconds. */
  readonly period?: number;
}

/** A virtio balloon: govmm `BalloonDevice`. */
export interface BalloonDevice extends VirtioOptions {
  readonly type: 'balloon';
  readonly id: string;
  readonly deflateOnOOM?: boolean;
  readonly freePageReporting?: boolean;
}

/** The Intel vIOMMU (amd64 q35 only): govmm `IommuDev`. */
export interface IommuDevice {
  readonly type: 'iommu';
  readonly intremap?: boolean;
  readonly deviceIotlb?: boolean;
  readonly cachingMode?: boolean;
}

/** A generic loader (firmware blob at boot): govmm `LoaderDevice`. */
export interface LoaderDevice {
  readonly type: 'loader';
  readonly id: string;
  readonly file: string;
}

/** The pvpanic ISA device: govmm `PVPanicDevice`. */
export interface PvpanicDevice {
  readonly type: 'pvpanic';
  /** `-device` id (omitted → none, as govmm). */
  readonly id?: string;
  /** Keep QEMU alive after a guest shutdown so a panic can be inspected (`-no-shutdown`). */
  readonly noShutdown?: boolean;
}

/** Every device vmactor can put on a QEMU command line. */
export type QemuDevice =
  | BlockDevice
  | NvdimmDevice
  | FsDevice
  | CharDevice
  | SerialDevice
  | NetDevice
  | VhostUserDevice
  | VfioDevice
  | ScsiControllerDevice
  | BridgeDevice
  | PcieRootPortDevice
  | VsockDevice
  | RngDevice
  | BalloonDevice
  | IommuDevice
  | LoaderDevice
  | PvpanicDevice;

/** The `type` tags of {@link QemuDevice}. */
export type QemuDeviceType = QemuDevice['type'];

/** Signature of `deviceArgs` (src/qemu/devices/index.ts): one device → its argv fragment. */
export type DeviceArgs = (device: QemuDevice, ctx: DeviceContext) => string[];
