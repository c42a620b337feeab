// THE device spec: one zod schema per family, one DeviceSpec union used unchanged by
// `SandboxConfig.devices` (cold plug) and by `sb.hotplug(spec)` (hot plug).
//
// zod 4 (not TypeBox): one definition gives the TypeScript types (`z.infer`), validation with
// paths for every problem at once (messages rendered in execa's ``Expected `x` to be …`` style by
// src/config), and a JSON Schema (`z.toJSONSchema`) the service's API reuses. Cross-field rules
// are `superRefine`s here, next to the fields they relate.
//
// Messages: every schema carries the phrase that completes ``Expected `path` to be …, got `x` ``
// (`an absolute path`); src/config/zod-issues.ts renders issues with it. A phrase starting with
// `to ` replaces the whole `to be …` (``Expected `devices[0].fds` to hold one fd per queue (2)``).
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

/** One of `values`, with a message listing them. */
function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `one of ${values.map((v) => `\`${v}\``).join(', ')}` });
}

/** An integer in `min..=max` (or `≥ min`). */
function int(min: number, max?: number) {
  const what = max === undefined ? `an integer ≥ ${min}` : `an integer between ${min} and ${max}`;
  const n = z.number({ error: what }).int().min(min);
  return max === undefined ? n : n.max(max);
}

/** An absolute host path without NUL bytes. */
const absPath = z
  .string({ error: 'an absolute path' })
  .refine((s) => s.startsWith('/') && !s.includes('\0'), { message: 'an absolute path' });

/** A Unix socket path: absolute and at most 107 bytes. */
const socketPath = absPath.refine((s) => Buffer.byteLength(s) <= MAX_SOCKET_PATH_BYTES, {
  message: `an absolute Unix socket path of at most ${MAX_SOCKET_PATH_BYTES} bytes`,
});

/** A device id ({@link DEVICE_ID_RE}). */
export const deviceIdSchema = z.string({ error: DEVICE_ID_RULE }).regex(DEVICE_ID_RE);

const mac = z.string({ error: 'a MAC address like `02:00:00:00:00:01`' }).regex(MAC_RE);
const bool = z.boolean({ error: 'a boolean' });
const fd = int(0, 65535);
const fdList = z.array(fd, { error: 'a non-empty array of file descriptor numbers' }).min(1);

/** Require exactly one of two fields, reporting at the first (what Kata's device checks do). */
function exactlyOne(ctx: z.RefinementCtx, v: Record<string, unknown>, a: string, b: string): void {
  if (v[a] === undefined && v[b] === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: [a],
      message: `to be set, or \`${b}\` instead (exactly one of the two)`,
    });
  } else if (v[a] !== undefined && v[b] !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: [a],
      message: `to be absent when \`${b}\` is set (exactly one of the two)`,
    });
  }
}

/** Block drivers (Kata's `block_device_driver` values). */
export const BLOCK_DRIVERS = [
  'virtio-scsi',
  'virtio-blk',
  'virtio-blk-ccw',
  'virtio-mmio',
  'nvdimm',
] as const;

/** Host cache options of a disk (QEMU's blockdev `cache` object; Kata's `block_device_cache_*`). */
export const blockCacheSchema = z.strictObject(
  {
    /** O_DIRECT on the host file (`cache.direct`). */
    direct: bool.optional(),
    /** Ignore guest flushes (`cache.no-flush`). */
    noFlush: bool.optional(),
  },
  { error: 'an object `{ direct?, noFlush? }`' },
);

/** A file or host block device attached as a disk (virtio-blk, scsi-hd, virtio-blk-ccw, nvdimm). */
export const blockSpecSchema = z.strictObject({
  kind: z.literal('block'),
  id: deviceIdSchema,
  /** Host path of the image or block device. */
  file: absPath,
  /** Image format; default `raw`. */
  format: oneOf(['raw', 'qcow2']).optional(),
  /** Driver; default the hypervisor's `blockDeviceDriver`. */
  driver: oneOf(BLOCK_DRIVERS).optional(),
  readOnly: bool.optional(),
  /** `share-rw=on`: other writers may hold the image (hot plug defaults it on, as Kata does). */
  shareRW: bool.optional(),
  /** AIO backend; default `threads`. */
  aio: oneOf(['threads', 'native', 'io_uring']).optional(),
  /** Cache options; default the hypervisor's `blockDeviceCache*` when `blockDeviceCacheSet`. */
  cache: blockCacheSchema.optional(),
  /** nvdimm only: `pmem=on` on the memory backend. */
  pmem: bool.optional(),
});

/** A virtio-net NIC on a tap: `ifname` (QEMU opens it) or pre-opened `fds` (one per queue). */
export const netSpecSchema = z
  .strictObject({
    kind: z.literal('net'),
    id: deviceIdSchema,
    /** Host tap interface name (≤ 15 bytes). */
    ifname: z
      .string({ error: 'an interface name of 1-15 characters [A-Za-z0-9_.-]' })
      .regex(IFNAME_RE)
      .optional(),
    /** Open tap fds in the controller process, one per queue (QEMU gets duplicates). */
    fds: fdList.optional(),
    /** Guest MAC; default a stable locally administered one. */
    mac: mac.optional(),
    /** Queue pairs (multiqueue); default the number of fds, else 1. */
    queues: int(1, 256).optional(),
    /** vhost-net data path; default `!disableVhostNet`. */
    vhost: bool.optional(),
    /** Open /dev/vhost-net fds, one per tap fd. */
    vhostFds: fdList.optional(),
  })
  .superRefine((v, ctx) => {
    exactlyOne(ctx, v, 'ifname', 'fds');
    if (v.fds && v.queues !== undefined && v.fds.length !== v.queues) {
      ctx.addIssue({ code: 'custom', path: ['fds'], message: `to hold one fd per queue (${v.queues})` });
    }
    if (v.vhostFds && v.fds && v.vhostFds.length !== v.fds.length) {
      const message = `to hold one fd per tap fd (${v.fds.length})`;
      ctx.addIssue({ code: 'custom', path: ['vhostFds'], message });
    }
    if (v.vhostFds && v.vhost === false) {
      ctx.addIssue({ code: 'custom', path: ['vhostFds'], message: 'to be absent when `vhost` is false' });
    }
  });

const tag = z.string({ error: 'a non-empty tag' }).min(1);

/** virtiofsd cache modes of Debian's C virtiofsd, the one vmactor launches. */
export const VIRTIOFSD_CACHE_MODES = ['none', 'auto', 'always'] as const;

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
  cache: oneOf(VIRTIOFSD_CACHE_MODES).optional(),
  /** DAX window, MiB; default the hypervisor's `virtioFSCacheSize`. */
  cacheSize: int(0).optional(),
  /** Extra virtiofsd arguments; default the hypervisor's `virtioFSExtraArgs`. */
  extraArgs: z.array(z.string({ error: 'a string' }), { error: 'an array of strings' }).optional(),
  queueSize: int(1, 1024).optional(),
});

/** A virtio-9p share. */
export const ninePSpecSchema = z.strictObject({
  kind: z.literal('fs'),
  type: z.literal('virtio-9p'),
  id: deviceIdSchema,
  tag,
  /** Host directory to share. */
  path: absPath,
  securityModel: oneOf(['none', 'passthrough', 'mapped', 'mapped-xattr', 'mapped-file']).optional(),
  readOnly: bool.optional(),
  /** msize; default the hypervisor's `msize9p`. */
  msize: int(4096).optional(),
});

/** A shared file system: virtio-fs or virtio-9p (discriminated on `type`). */
export const fsSpecSchema = z.discriminatedUnion('type', [virtioFsSpecSchema, ninePSpecSchema]);

/** A vhost-user device whose backend listens on a Unix socket (blk, scsi, net, fs). */
export const vhostUserSpecSchema = z
  .strictObject({
    kind: z.literal('vhost-user'),
    type: oneOf(['blk', 'scsi', 'net', 'fs']),
    id: deviceIdSchema,
    /** The backend's socket (≤ 107 bytes). */
    socketPath,
    /** net only: guest MAC. */
    mac: mac.optional(),
    /** fs only: mount tag. */
    tag: tag.optional(),
    /** fs only: DAX window, MiB (QEMU 7.2 has none: must be 0). */
    cacheSize: int(0).optional(),
  })
  .superRefine((v, ctx) => {
    if (v.mac !== undefined && v.type !== 'net') {
      ctx.addIssue({ code: 'custom', path: ['mac'], message: 'to be absent unless `type` is `net`' });
    }
    if (v.type === 'fs' && v.tag === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tag'], message: 'to be set for vhost-user `fs`' });
    }
    for (const key of ['tag', 'cacheSize'] as const) {
      if (v[key] !== undefined && v.type !== 'fs') {
        ctx.addIssue({ code: 'custom', path: [key], message: 'to be absent unless `type` is `fs`' });
      }
    }
  });

/** A VFIO passthrough device: a host PCI function (`bdf`) or a sysfs device (`sysfsDev`, mediated). */
export const vfioSpecSchema = z
  .strictObject({
    kind: z.literal('vfio'),
    id: deviceIdSchema,
    /** Host PCI address `0000:01:00.0`. */
    bdf: z.string({ error: 'a PCI address like `0000:01:00.0`' }).regex(BDF_RE).optional(),
    /** Host sysfs path, e.g. `/sys/bus/mdev/devices/<uuid>`. */
    sysfsDev: z.string({ error: 'a path under /sys/ without commas' }).regex(SYSFS_DEV_RE).optional(),
    /** Mediated device (`sysfsdev=`); default: `sysfsDev` is given. */
    mediated: bool.optional(),
    /** The device is PCIe: on q35 it goes on a PCIe root port (Kata's warning otherwise). */
    pcie: bool.optional(),
  })
  .superRefine((v, ctx) => {
    exactlyOne(ctx, v, 'bdf', 'sysfsDev');
    if (v.mediated === true && v.sysfsDev === undefined) {
      ctx.addIssue({ code: 'custom', path: ['sysfsDev'], message: 'to be set for a mediated device' });
    }
  });

/** A vhost-vsock device. Without `contextId` the sandbox takes a host-unique CID from the allocator. */
export const vsockSpecSchema = z.strictObject({
  kind: z.literal('vsock'),
  id: deviceIdSchema,
  /** Guest CID, 3 ..= 0xfffffffe; default: allocated, unique on this host. */
  contextId: int(MIN_GUEST_CID, MAX_GUEST_CID).optional(),
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
  deflateOnOOM: bool.optional(),
  freePageReporting: bool.optional(),
});

/** The pvpanic device: guest panics reach QMP as `GUEST_PANICKED`. */
export const pvpanicSpecSchema = z.strictObject({
  kind: z.literal('pvpanic'),
  id: deviceIdSchema,
});

/** Every device a user can give, cold (config) or hot (`sb.hotplug`), discriminated on `kind`. */
export const deviceSpecSchema = z.discriminatedUnion(
  'kind',
  [
    blockSpecSchema,
    netSpecSchema,
    fsSpecSchema,
    vhostUserSpecSchema,
    vfioSpecSchema,
    vsockSpecSchema,
    rngSpecSchema,
    balloonSpecSchema,
    pvpanicSpecSchema,
  ],
  { error: 'a device object with a `kind`' },
);

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
/** What a caller may pass for a device (zod's input type; the same as {@link DeviceSpec} today). */
export type DeviceSpecInput = z.input<typeof deviceSpecSchema>;
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
