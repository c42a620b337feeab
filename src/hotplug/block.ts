// Block hot-plug (the seeds' hotplugAddBlockDevice/hotplugBlockDevice): virtio-blk, scsi-hd, nvdimm, CCW.
import { type Stats, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { HotplugBlockOperation } from '../../machines/operation.types.js';
import type { QmpBlockdevAddArgs, QmpDeviceAddArgs } from '../qmp/commands.js';
import { effectiveBlockDriver } from './capacity.js';
import {
  assertNewId,
  cleanupQmp,
  deviceAddUndo,
  deviceDelAndWait,
  recordStuck,
  takeBridgeSlot,
} from './common.js';
import { deadlinesOf, type HotplugContext, limitsOf } from './context.js';
import type { DevicePlacement, HotplugBlockDriver, RecordedBlock } from './device-state.js';
import { HotplugCapacityError, HotplugInputError, HotplugNotSupportedError } from './errors.js';
import { type GuestDisk, waitUntil } from './guest-probe.js';
import { getSCSIIdLun } from './scsi-id-lun.js';
import { Steps } from './steps.js';
import type { BlockPlugResult, ConfirmedBy, UnplugResult } from './types.js';

/** Bus of the sandbox's virtio-scsi controller (`scsi0`, as the plan names it). */
export const SCSI_BUS = 'scsi0.0';
/** virtio-blk serials hold at most 20 bytes. */
const VIRTIO_BLK_SERIAL_MAX = 20;

/** Block node name of a hot-plugged disk. */
export function blockNodeName(id: string): string {
  return `drive-${id}`;
}

/** nvdimm backend object id (govmm: `nvdimmbackmem<id>`). */
export function nvdimmBackendId(id: string): string {
  return `nvdimmbackmem-${id}`;
}

const DRIVERS: readonly HotplugBlockDriver[] = ['virtio-blk', 'virtio-scsi', 'nvdimm', 'virtio-blk-ccw'];

/**
 * Size of a block device in bytes, as BLKGETSIZE64 reports it: Node has no ioctl, so it is read
 * from sysfs (`/sys/dev/block/<major>:<minor>/size`, in 512-byte sectors, the same number).
 */
export async function blockDeviceSizeBytes(st: Stats): Promise<number> {
  const major = Math.floor(st.rdev / 256) & 0xfff;
  const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
  const sectors = Number((await readFile(`/sys/dev/block/${major}:${minor}/size`, 'utf8')).trim());
  return sectors * 512;
}

function statFile(file: unknown): Stats {
  if (typeof file !== 'string' || !file.startsWith('/')) {
    throw new HotplugInputError(`Expected \`file\` to be an absolute path, got \`${String(file)}\``);
  }
  let st: Stats;
  try {
    st = statSync(file);
  } catch (cause) {
    throw new HotplugInputError(`Expected \`file\` to be an existing file or block device, got \`${file}\``, {
      cause,
    });
  }
  if (!st.isFile() && !st.isBlockDevice()) {
    throw new HotplugInputError(`Expected \`file\` to be a regular file or a block device, got \`${file}\``);
  }
  return st;
}

/** blockdev-add arguments (govmm's ExecuteBlockdevAdd / ExecuteBlockdevAddWithCache). */
export function blockdevArgs(
  ctx: Pick<HotplugContext, 'config'>,
  op: HotplugBlockOperation,
  isBlockDevice: boolean,
): QmpBlockdevAddArgs {
  const c = ctx.config;
  const cache =
    op.cache !== undefined
      ? { direct: op.cache.direct ?? false, 'no-flush': op.cache.noFlush ?? false }
      : c.blockDeviceCacheSet
        ? { direct: c.blockDeviceCacheDirect, 'no-flush': c.blockDeviceCacheNoflush }
        : undefined;
  return {
    driver: op.format ?? 'raw',
    'node-name': blockNodeName(op.id),
    'read-only': op.readOnly ?? false,
    ...(cache ? { cache } : {}),
    file: { driver: isBlockDevice ? 'host_device' : 'file', filename: op.file, aio: 'threads' },
  };
}

/** device_add arguments for the disk's frontend. */
export function blockDeviceArgs(
  op: HotplugBlockOperation,
  driver: Exclude<HotplugBlockDriver, 'nvdimm'>,
  where: DevicePlacement & { scsi?: { scsiId: number; lun: number } },
): QmpDeviceAddArgs {
  const shareRw = op.shareRw ?? true; // the seeds always hot-plug with share-rw=on
  const base = { id: op.id, drive: blockNodeName(op.id), ...(shareRw ? { 'share-rw': true } : {}) };
  switch (driver) {
    case 'virtio-blk':
      return {
        driver: 'virtio-blk-pci',
        ...base,
        serial: op.id.slice(0, VIRTIO_BLK_SERIAL_MAX),
        ...(where.bus ? { bus: where.bus } : {}),
        ...(where.addr ? { addr: where.addr } : {}),
      };
    case 'virtio-blk-ccw':
      return { driver: 'virtio-blk-ccw', ...base, ...(where.devno ? { devno: where.devno } : {}) };
    case 'virtio-scsi':
      return {
        driver: 'scsi-hd',
        ...base,
        bus: SCSI_BUS,
        'scsi-id': where.scsi?.scsiId ?? 0,
        lun: where.scsi?.lun ?? 0,
      };
  }
}

async function confirmInGuest(
  ctx: HotplugContext,
  what: string,
  before: readonly GuestDisk[] | undefined,
  match: (d: GuestDisk) => boolean,
): Promise<{ confirmedBy: ConfirmedBy; guestName?: string }> {
  if (!ctx.guest || ctx.paused) return { confirmedBy: 'qemu' };
  const known = new Set((before ?? []).map((d) => d.name));
  const disks = await waitUntil(
    what,
    (s) => (ctx.guest as NonNullable<HotplugContext['guest']>).blockDevices(s),
    (list) => list.some((d) => !known.has(d.name) && match(d)),
    { deadlineMs: deadlinesOf(ctx).guestMs, signal: ctx.signal, wake: ctx.guest?.changed?.bind(ctx.guest) },
  );
  const found = disks.find((d) => !known.has(d.name) && match(d));
  return { confirmedBy: 'guest', ...(found ? { guestName: found.name } : {}) };
}

/**
 * Hot-plugs a disk: blockdev-add (cache options when set) → a bridge slot (`bb/ss`) →
 * device_add virtio-blk-pci; or scsi-hd with SCSI id/LUN from the drive index; or an nvdimm
 * (memory-backend-file sized from the file, or BLKGETSIZE64) ; or virtio-blk-ccw with a devno.
 * Any failure undoes every earlier step (device, blockdev-del, slot release).
 */
export async function hotplugBlock(ctx: HotplugContext, op: HotplugBlockOperation): Promise<BlockPlugResult> {
  assertNewId(ctx, op.id);
  const st = statFile(op.file);
  const driver = effectiveBlockDriver(op, ctx.config);
  if (!(DRIVERS as readonly string[]).includes(driver)) {
    throw new HotplugNotSupportedError(
      `Expected a hot-pluggable block driver (${DRIVERS.join(', ')}), got \`${driver}\``,
    );
  }
  if (driver === 'nvdimm') return hotplugNvdimm(ctx, op, st);
  const before = ctx.guest && !ctx.paused ? await ctx.guest.blockDevices(ctx.signal) : undefined;
  const steps = new Steps(ctx);
  try {
    await steps.qmp('blockdev-add', 'blockdev-add', blockdevArgs(ctx, op, st.isBlockDevice()), {
      name: `blockdev-del ${op.id}`,
      run: () => steps.undoQmp('blockdev-del', { 'node-name': blockNodeName(op.id) }),
    });
    let where: DevicePlacement = {};
    let scsi: RecordedBlock['scsi'];
    if (driver === 'virtio-blk') where = takeBridgeSlot(ctx, steps, op.id, 'pci');
    else if (driver === 'virtio-blk-ccw') where = takeBridgeSlot(ctx, steps, op.id, 'ccw');
    else {
      const index = ctx.state.nextBlockIndex();
      scsi = { index, ...getSCSIIdLun(index) };
      where = { bus: SCSI_BUS };
    }
    const dev = blockDeviceArgs(op, driver as Exclude<HotplugBlockDriver, 'nvdimm'>, {
      ...where,
      ...(scsi ? { scsi } : {}),
    });
    const rec: RecordedBlock = {
      kind: 'block',
      id: op.id,
      driver: driver as HotplugBlockDriver,
      file: op.file,
      nodeName: blockNodeName(op.id),
      ...where,
      ...(scsi ? { scsi } : {}),
    };
    await steps.qmp(
      `device_add ${dev.driver}`,
      'device_add',
      dev,
      deviceAddUndo(ctx, op.id, (pending) => recordStuck(ctx, rec, pending)),
    );
    ctx.state.addDevice(rec);
  } catch (err) {
    return steps.fail(err);
  }
  ctx.emit('applied');
  const size = st.isBlockDevice() ? undefined : st.size;
  const seen = await confirmInGuest(ctx, `the guest seeing disk \`${op.id}\``, before, (d) =>
    driver === 'virtio-blk'
      ? d.serial === op.id.slice(0, VIRTIO_BLK_SERIAL_MAX)
      : size === undefined || d.sizeBytes === size,
  );
  const rec = ctx.state.device(op.id) as RecordedBlock;
  return {
    kind: 'hotplug-block',
    id: op.id,
    driver: driver as HotplugBlockDriver,
    ...(rec.pciPath ? { pciPath: rec.pciPath } : {}),
    ...(rec.devno ? { devno: rec.devno } : {}),
    ...(rec.scsi ? { scsi: { scsiId: rec.scsi.scsiId, lun: rec.scsi.lun } } : {}),
    ...seen,
  };
}

async function hotplugNvdimm(
  ctx: HotplugContext,
  op: HotplugBlockOperation,
  st: Stats,
): Promise<BlockPlugResult> {
  const sizeBytes = st.isFile() ? st.size : await blockDeviceSizeBytes(st);
  if (sizeBytes <= 0)
    throw new HotplugInputError(`Expected \`file\` to be non-empty for an nvdimm, got \`${op.file}\``);
  const limits = limitsOf(ctx);
  const mib = Math.ceil(sizeBytes / (1024 * 1024));
  const used =
    limits.bootMemoryMiB +
    ctx.state.hotpluggedMemoryMiB +
    ctx.state.nvdimmMiB() +
    (ctx.state.virtioMem?.regionMiB ?? 0);
  if (used + mib > limits.maxMemMiB) {
    throw new HotplugCapacityError(
      'maxmem',
      `Expected nvdimm \`${op.id}\` (${mib} MiB) to fit below maxmem ${limits.maxMemMiB} MiB, but ${used} MiB are in use`,
    );
  }
  const before = ctx.guest && !ctx.paused ? await ctx.guest.blockDevices(ctx.signal) : undefined;
  const backendId = nvdimmBackendId(op.id);
  const pmem = op.pmem ?? false;
  // QEMU cannot unplug an nvdimm: if an aborted device_add happened after all, it stays recorded.
  const nvRec: RecordedBlock = {
    kind: 'block',
    id: op.id,
    driver: 'nvdimm',
    file: op.file,
    nvdimm: { backendId, sizeBytes, pmem },
  };
  const steps = new Steps(ctx);
  try {
    await steps.qmp(
      'object-add memory-backend-file',
      'object-add',
      {
        'qom-type': 'memory-backend-file',
        id: backendId,
        'mem-path': op.file,
        size: sizeBytes,
        share: true,
        ...(op.pmem !== undefined ? { pmem } : {}),
      },
      { name: `object-del ${backendId}`, run: () => steps.undoQmp('object-del', { id: backendId }) },
    );
    await steps.qmp(
      'device_add nvdimm',
      'device_add',
      { driver: 'nvdimm', id: op.id, memdev: backendId },
      deviceAddUndo(ctx, op.id, () => recordStuck(ctx, nvRec, false), false),
    );
    ctx.state.addDevice(nvRec);
  } catch (err) {
    return steps.fail(err);
  }
  ctx.emit('applied');
  const seen = await confirmInGuest(ctx, `the guest seeing nvdimm \`${op.id}\``, before, (d) =>
    d.name.startsWith('pmem'),
  );
  return { kind: 'hotplug-block', id: op.id, driver: 'nvdimm', sizeBytes, ...seen };
}

/**
 * Removes a disk: device_del → `DEVICE_DELETED` → blockdev-del → slot release (nvdimm: QEMU cannot
 * unplug it, a typed error before any QMP).
 */
export async function unplugBlock(ctx: HotplugContext, rec: RecordedBlock): Promise<UnplugResult> {
  if (rec.driver === 'nvdimm') {
    throw new HotplugNotSupportedError(`QEMU cannot hot-unplug nvdimm devices (\`${rec.id}\`)`);
  }
  const wait = await deviceDelAndWait(ctx, rec.id);
  if (!wait.deleted) return { kind: 'unplug', id: rec.id, removed: false, pending: true };
  try {
    await finishBlockRemoval(ctx, rec);
  } catch (err) {
    // QEMU deleted the frontend but kept the backend busy a little longer: finish it later.
    ctx.state.markPendingRemoval(rec.id);
    throw err;
  }
  return { kind: 'unplug', id: rec.id, removed: true, pending: false };
}

/** After `DEVICE_DELETED`: blockdev-del, slot release, record removed. */
export async function finishBlockRemoval(ctx: HotplugContext, rec: RecordedBlock): Promise<void> {
  if (rec.nodeName) {
    const node = rec.nodeName;
    await cleanupQmp(ctx, 'blockdev-del', (timeoutMs) =>
      ctx.qmp.execute('blockdev-del', { 'node-name': node }, { timeoutMs }),
    );
  }
  if (rec.nvdimm) {
    const id = rec.nvdimm.backendId;
    await cleanupQmp(ctx, 'object-del', (timeoutMs) => ctx.qmp.execute('object-del', { id }, { timeoutMs }));
  }
  ctx.state.releaseSlot(rec.id);
  ctx.state.removeDevice(rec.id);
}
