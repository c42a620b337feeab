// The device facts, each defined once: id syntax, MAC, BDF, interface names, socket paths, CIDs,
// virtio-fs tags, SCSI id/LUN, the host arch. Everything else (config validation, the device
// schema, the builders, hot plug, the run dir) imports them from here.
//
// A leaf module: no imports, so config/, devices/, qemu/, process/ and hotplug/ may all use it.

/** Guest/host architecture, named like Go's GOARCH (Kata's naming). */
export type Arch = 'amd64' | 'arm64' | 'ppc64le' | 's390x';

/** Every architecture vmactor knows, in a stable order. */
export const ARCHES: readonly Arch[] = ['amd64', 'arm64', 'ppc64le', 's390x'];

/** QEMU's `id_wellformed()`: a letter, then letters, digits, `-`, `.`, `_` (no length limit). */
export const QEMU_ID_RE = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/**
 * Longest user device id. QEMU block node names hold at most 31 bytes (`BLOCK_NODE_NAME_MAX`
 * minus the NUL) and a disk's node is `drive-<id>`, so ids stop at 25 characters; Kata's
 * `maxDevIDSize` (31) is the ceiling before the prefix.
 */
export const MAX_DEVICE_ID_CHARS = 25;

/** A user device id: QEMU's id syntax, at most {@link MAX_DEVICE_ID_CHARS} characters. */
export const DEVICE_ID_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,24}$/;

/** What a device id must look like, for messages. */
export const DEVICE_ID_RULE = `a device id matching ${DEVICE_ID_RE} (a letter, then letters, digits, \`_\`, \`.\`, \`-\`; at most ${MAX_DEVICE_ID_CHARS})`;

/** Sandbox ids: ASCII, start alphanumeric, ≤ 64 chars (they name run dirs and sockets); `..` is refused separately. */
export const SANDBOX_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** True for a valid sandbox id: {@link SANDBOX_ID_RE} and no `..` anywhere. */
export function isSandboxId(value: unknown): value is string {
  return typeof value === 'string' && SANDBOX_ID_RE.test(value) && !value.includes('..');
}

/** A MAC address `aa:bb:cc:dd:ee:ff` (hex, either case). */
export const MAC_RE = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;

/** A host PCI address `DDDD:BB:DD.F` or `BB:DD.F` (device 00-1f, function 0-7). */
export const BDF_RE = /^([0-9A-Fa-f]{4}:)?[0-9A-Fa-f]{2}:[0-1][0-9A-Fa-f]\.[0-7]$/;

/** A host sysfs device path (mediated VFIO devices: `/sys/bus/mdev/devices/<uuid>`); no commas. */
export const SYSFS_DEV_RE = /^\/sys\/[^,\0]+$/;

/** A Linux network interface name: 1-15 bytes (`IFNAMSIZ` minus the NUL). */
export const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;

/** Longest Unix socket path: `sockaddr_un.sun_path` is 108 bytes including the NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

/** True when `path` fits `sun_path`. */
export function fitsSocketPath(path: string): boolean {
  return Buffer.byteLength(path) <= MAX_SOCKET_PATH_BYTES;
}

/** virtio-fs mount tags hold at most 36 bytes (the virtio spec's `tag[36]`). */
export const MAX_VIRTIOFS_TAG_BYTES = 36;

/** Smallest guest vsock CID (0-2: hypervisor, local, host). */
export const MIN_GUEST_CID = 3;
/** Largest guest vsock CID: `u32` minus `VMADDR_CID_ANY` (0xffffffff), which the kernel refuses. */
export const MAX_GUEST_CID = 0xffff_fffe;

/** Drives Kata addresses on one virtio-scsi controller: targets 0..255 × LUNs 0..255, minus one. */
export const MAX_SCSI_DRIVES = 65535;

/**
 * The SCSI target id and LUN of the n-th drive on the controller (Kata's `utils.GetSCSIIdLun`):
 * `scsiId = index / 256`, `lun = index % 256`. Throws a `RangeError` outside 0..65534.
 *
 * @example
 * scsiIdLun(0)   // => { scsiId: 0, lun: 0 }
 * scsiIdLun(257) // => { scsiId: 1, lun: 1 }
 */
export function scsiIdLun(index: number): { scsiId: number; lun: number } {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_SCSI_DRIVES) {
    throw new RangeError(`Expected a SCSI drive index in 0..${MAX_SCSI_DRIVES - 1}, got \`${index}\``);
  }
  return { scsiId: Math.floor(index / 256), lun: index % 256 };
}

/**
 * The arch of the host Node runs on, in Go's names (`x64` → `amd64`); `undefined` on a host
 * vmactor has no QEMU tables for. Callers decide whether that is an error or a default.
 *
 * @example
 * hostArch('x64') // => 'amd64'
 */
export function hostArch(nodeArch: string = process.arch): Arch | undefined {
  switch (nodeArch) {
    case 'x64':
      return 'amd64';
    case 'arm64':
      return 'arm64';
    case 'ppc64':
      return 'ppc64le';
    case 's390x':
      return 's390x';
    default:
      return undefined;
  }
}
