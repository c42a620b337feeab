// THE device spec: one zod schema per family, one DeviceSpec union used unchanged by
// `SandboxConfig.devices` (cold plug) and by `sb.hotplug(spec)` (hot plug).
//
// zod 4 (not TypeBox): one definition gives the TypeScript types (`z.infer`), validation with
// paths for every problem at once (messages rendered in execa's ``Expected `x` to be …`` style by
// src/config), and a JSON Schema (`z.toJSONSchema`) the service's API reuses. Cross-field rules
// are `superRefine`s here, next to the fields they relate.
//
// A leaf below src/config: it imports only zod and ./rules.
import { z } from 'zod';
import {
  BDF_RE,
  DEVICE_ID_RE,
  DEVICE_ID_RULE,
  IFNAME_RE,
  MAC_RE,
  MAX_GUEST_CID,
  MAX_SOCKET_PATH_BYTES,
  MAX_VIRTIOFS_TAG_BYTES,
  MIN_GUEST_CID,
  SYSFS_DEV_RE,
} from './rules.js';

/** An absolute host path without NUL bytes. */
const absPath = z
  .string()
  .refine((s) => s.startsWith('/') && !s.includes('\0'), { message: 'an absolute path' });

/** A Unix socket path: absolute and at most 107 bytes. */
const socketPath = absPath.refine((s) => Buffer.byteLength(s) <= MAX_SOCKET_PATH_BYTES, {
  message: `an absolute Unix socket path of at most ${MAX_SOCKET_PATH_BYTES} bytes`,
});

/** A device id ({@link DEVICE_ID_RE}). */
export const deviceIdSchema = z.string().regex(DEVICE_ID_RE, { message: DEVICE_ID_RULE });

const mac = z.string().regex(MAC_RE, { message: 'a MAC address like `02:00:00:00:00:01`' });
const fd = z.number().int().min(0).max(65535);
const fdList = z.array(fd).min(1);

/** Block drivers (Kata's `block_device_driver` values). */
export const BLOCK_DRIVERS = [
  'virtio-scsi',
  'virtio-blk',
  'virtio-blk-ccw',
  'virtio-mmio',
  'nvdimm',
] as const;

/** Host cache options of a disk (QEMU's blockdev `cache` object; Kata's `block_device_cache_*`). */
export const blockCacheSchema = z.strictObject({
  /** O_DIRECT on the host file (`cache.direct`). */
  direct: z.boolean().optional(),
  /** Ignore guest flushes (`cache.no-flush`). */
  noFlush: z.boolean().optional(),
});

/** A file or host block device attached as a disk (virtio-blk, scsi-hd, virtio-blk-ccw, nvdimm). */
export const blockSpecSchema = z.strictObject({
  kind: z.literal('block'),
  id: deviceIdSchema,
  /** Host path of the image or block device. */
  file: absPath,
  /** Image format; default `raw`. */
  format: z.enum(['raw', 'qcow2']).optional(),
  /** Driver; default the hypervisor's `blockDeviceDriver`. */
  driver: z.enum(BLOCK_DRIVERS).optional(),
  readOnly: z.boolean().optional(),
  /** `share-rw=on`: other writers may hold the image (hot plug defaults it on, as Kata does). */
  shareRW: z.boolean().optional(),
  /** AIO backend; default `threads`. */
  aio: z.enum(['threads', 'native', 'io_uring']).optional(),
  /** Cache options; default the hypervisor's `blockDeviceCache*` when `blockDeviceCacheSet`. */
  cache: blockCacheSchema.optional(),
  /** nvdimm only: `pmem=on` on the memory backend. */
  pmem: z.boolean().optional(),
});

/** A virtio-net NIC on a tap: `ifname` (QEMU opens it) or pre-opened `fds` (one per queue). */
export const netSpecSchema = z
  .strictObject({
    kind: z.literal('net'),
    id: deviceIdSchema,
    /** Host tap interface name (≤ 15 bytes). */
    ifname: z
      .string()
      .regex(IFNAME_RE, { message: 'an interface name of 1-15 characters [A-Za-z0-9_.-]' })
      .optional(),
    /** Open tap fds in the controller process, one per queue (QEMU gets duplicates). */
    fds: fdList.optional(),
    /** Guest MAC; default a stable locally administered one. */
    mac: mac.optional(),
    /** Queue pairs (multiqueue); default the number of fds, else 1. */
    queues: z.number().int().min(1).max(256).optional(),
    /** vhost-net data path; default `!disableVhostNet`. */
    vhost: z.boolean().optional(),
    /** Open /dev/vhost-net fds, one per tap fd. */
    vhostFds: fdList.optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.ifname === undefined) === (v.fds === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['ifname'], message: 'exactly one of `ifname` and `fds`' });
    }
    if (v.fds && v.queues !== undefined && v.fds.length !== v.queues) {
      ctx.addIssue({ code: 'custom', path: ['fds'], message: `one fd per queue (${v.queues})` });
    }
    if (v.vhostFds && v.fds && v.vhostFds.length !== v.fds.length) {
      ctx.addIssue({ code: 'custom', path: ['vhostFds'], message: `one fd per tap fd (${v.fds.length})` });
    }
    if (v.vhostFds && v.vhost === false) {
      ctx.addIssue({ code: 'custom', path: ['vhostFds'], message: 'absent when `vhost` is false' });
    }
  });

const tag = z.string().min(1);

/** A virtio-fs share served by a virtiofsd vmactor launches. */
export const virtioFsSpecSchema = z.strictObject({
  kind: z.literal('fs'),
  type: z.literal('virtio-fs'),
  id: deviceIdSchema,
  /** Mount tag seen by the guest (≤ 36 bytes). */
  tag: tag.refine((s) => Buffer.byteLength(s) <= MAX_VIRTIOFS_TAG_BYTES, {
    message: `a tag of at most ${MAX_VIRTIOFS_TAG_BYTES} bytes`,
  }),
  /** Host directory to share. */
  sharedDir: absPath,
  /** virtiofsd cache mode; default the hypervisor's `virtioFSCache`. */
  cache: z.enum(['none', 'auto', 'always']).optional(),
  /** DAX window, MiB; default the hypervisor's `virtioFSCacheSize`. */
  cacheSize: z.number().int().min(0).optional(),
  /** Extra virtiofsd arguments; default the hypervisor's `virtioFSExtraArgs`. */
  extraArgs: z.array(z.string()).optional(),
  queueSize: z.number().int().min(1).max(1024).optional(),
});

/** A virtio-9p share. */
export const ninePSpecSchema = z.strictObject({
  kind: z.literal('fs'),
  type: z.literal('virtio-9p'),
  id: deviceIdSchema,
  tag,
  /** Host directory to share. */
  path: absPath,
  securityModel: z.enum(['none', 'passthrough', 'mapped', 'mapped-xattr', 'mapped-file']).optional(),
  readOnly: z.boolean().optional(),
  /** msize; default the hypervisor's `msize9p`. */
  msize: z.number().int().min(4096).optional(),
});

/** A shared file system: virtio-fs or virtio-9p (discriminated on `type`). */
export const fsSpecSchema = z.discriminatedUnion('type', [virtioFsSpecSchema, ninePSpecSchema]);

/** A vhost-user device whose backend listens on a Unix socket (blk, scsi, net, fs). */
export const vhostUserSpecSchema = z
  .strictObject({
    kind: z.literal('vhost-user'),
    type: z.enum(['blk', 'scsi', 'net', 'fs']),
    id: deviceIdSchema,
    /** The backend's socket (≤ 107 bytes). */
    socketPath,
    /** net only: guest MAC. */
    mac: mac.optional(),
    /** fs only: mount tag. */
    tag: tag.optional(),
    /** fs only: DAX window, MiB (QEMU 7.2 has none: must be 0). */
    cacheSize: z.number().int().min(0).optional(),
  })
  .superRefine((v, ctx) => {
    if (v.mac !== undefined && v.type !== 'net') {
      ctx.addIssue({ code: 'custom', path: ['mac'], message: 'only on vhost-user `net` devices' });
    }
    if (v.type === 'fs' && v.tag === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tag'], message: 'set for vhost-user `fs`' });
    }
    for (const key of ['tag', 'cacheSize'] as const) {
      if (v[key] !== undefined && v.type !== 'fs') {
        ctx.addIssue({ code: 'custom', path: [key], message: 'only on vhost-user `fs` devices' });
      }
    }
  });

/** A VFIO passthrough device: a host PCI function (`bdf`) or a sysfs device (`sysfsDev`, mediated). */
export const vfioSpecSchema = z
  .strictObject({
    kind: z.literal('vfio'),
    id: deviceIdSchema,
    /** Host PCI address `0000:01:00.0`. */
    bdf: z.string().regex(BDF_RE, { message: 'a PCI address like `0000:01:00.0`' }).optional(),
    /** Host sysfs path, e.g. `/sys/bus/mdev/devices/<uuid>`. */
    sysfsDev: z.string().regex(SYSFS_DEV_RE, { message: 'a path under /sys/ without commas' }).optional(),
    /** Mediated device (`sysfsdev=`); default: `sysfsDev` is given. */
    mediated: z.boolean().optional(),
    /** The device is PCIe: on q35 it goes on a PCIe root port (Kata's warning otherwise). */
    pcie: z.boolean().optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.bdf === undefined) === (v.sysfsDev === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['bdf'], message: 'exactly one of `bdf` and `sysfsDev`' });
    }
    if (v.mediated === true && v.sysfsDev === undefined) {
      ctx.addIssue({ code: 'custom', path: ['sysfsDev'], message: 'set for a mediated device' });
    }
  });

/** A vhost-vsock device. Without `contextId` the sandbox takes a host-unique CID from the allocator. */
export const vsockSpecSchema = z.strictObject({
  kind: z.literal('vsock'),
  id: deviceIdSchema,
  /** Guest CID, 3 ..= 0xfffffffe; default: allocated, unique on this host. */
  contextId: z.number().int().min(MIN_GUEST_CID).max(MAX_GUEST_CID).optional(),
  /** An open /dev/vhost-vsock fd in the controller process. */
  vhostFd: fd.optional(),
});

/** A virtio-rng device fed by a host entropy source. */
export const rngSpecSchema = z.strictObject({
  kind: z.literal('rng'),
  id: deviceIdSchema,
  /** Host entropy source; default the hypervisor's `entropySource`. */
  path: absPath.optional(),
});

/** A virtio balloon (Kata: `enable_balloon`/free page reporting). */
export const balloonSpecSchema = z.strictObject({
  kind: z.literal('balloon'),
  id: deviceIdSchema,
  deflateOnOOM: z.boolean().optional(),
  freePageReporting: z.boolean().optional(),
});

/** The pvpanic device: guest panics reach QMP as `GUEST_PANICKED`. */
export const pvpanicSpecSchema = z.strictObject({
  kind: z.literal('pvpanic'),
  id: deviceIdSchema,
});

/** Every device a user can give, cold (config) or hot (`sb.hotplug`), discriminated on `kind`. */
export const deviceSpecSchema = z.discriminatedUnion('kind', [
  blockSpecSchema,
  netSpecSchema,
  fsSpecSchema,
  vhostUserSpecSchema,
  vfioSpecSchema,
  vsockSpecSchema,
  rngSpecSchema,
  balloonSpecSchema,
  pvpanicSpecSchema,
]);

/** A disk. */
export type BlockSpec = z.infer<typeof blockSpecSchema>;
/** A tap NIC. */
export type NetSpec = z.infer<typeof netSpecSchema>;
/** A virtio-fs share. */
export type VirtioFsSpec = z.infer<typeof virtioFsSpecSchema>;
/** A 9p share. */
export type NinePSpec = z.infer<typeof ninePSpecSchema>;
/** A shared file system. */
export type FsSpec = z.infer<typeof fsSpecSchema>;
/** A vhost-user device. */
export type VhostUserSpec = z.infer<typeof vhostUserSpecSchema>;
/** A VFIO device. */
export type VfioSpec = z.infer<typeof vfioSpecSchema>;
/** A vhost-vsock device. */
export type VsockSpec = z.infer<typeof vsockSpecSchema>;
/** A virtio-rng device. */
export type RngSpec = z.infer<typeof rngSpecSchema>;
/** A virtio balloon. */
export type BalloonSpec = z.infer<typeof balloonSpecSchema>;
/** A pvpanic device. */
export type PvpanicSpec = z.infer<typeof pvpanicSpecSchema>;
/** Any device a user gives (cold- or hot-plugged). */
export type DeviceSpec = z.infer<typeof deviceSpecSchema>;
/** The `kind` discriminant of {@link DeviceSpec}. */
export type DeviceKind = DeviceSpec['kind'];
/** Block driver names. */
export type BlockDriver = (typeof BLOCK_DRIVERS)[number];

/**
 * The JSON Schema of {@link DeviceSpec} (draft 2020-12), for the service's API and docs.
 *
 * @example
 * const schema = deviceSpecJsonSchema(); // { oneOf: [ { properties: { kind: { const: 'block' } … } } … ] }
 */
export function deviceSpecJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(deviceSpecSchema, { io: 'input' }) as Record<string, unknown>;
}
