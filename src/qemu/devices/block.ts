// Block devices: a `-blockdev` node plus virtio-blk or scsi-hd (govmm `BlockDevice`), and NVDIMM
// images (govmm `Object{Driver: NVDIMM, Type: MemoryBackendFile}`), as QMP objects.
import { blockNodeName } from './names.js';
import type { BlockdevAddArgs, DeviceAddArgs, QemuObjects } from './objects.js';
import {
  type DeviceProps,
  modernProps,
  resolveTransport,
  transportProps,
  virtioDriver,
} from './transport.js';
import type { BlockDevice, DeviceContext, NvdimmDevice } from './types.js';
import { validateBlock, validateNvdimm } from './validate-block.js';

/** virtio-blk serials hold at most 20 bytes (`VIRTIO_BLK_ID_BYTES`). */
export const VIRTIO_BLK_SERIAL_MAX = 20;

/**
 * The disk's `blockdev-add` node: a format node `drive-<id>` on an inline `file`/`host_device`
 * protocol node (Kata's qemu.go `hotplugAddBlockDevice` via govmm's `ExecuteBlockdevAdd`); cache
 * options on the format node (the inline child inherits them, `aio: native` included).
 *
 * QEMU 7.2 choice: cold plug uses the same node on the command line (`-blockdev '{...}'`), not
 * govmm's legacy `-drive ...,if=none`, so a cold-plugged disk is unplugged exactly like a hot one.
 */
export function blockdevOf(dev: BlockDevice): BlockdevAddArgs {
  const c = dev.cache;
  const cache =
    c !== undefined && (c.direct !== undefined || c.noFlush !== undefined)
      ? {
          ...(c.direct !== undefined ? { direct: c.direct } : {}),
          ...(c.noFlush !== undefined ? { 'no-flush': c.noFlush } : {}),
        }
      : undefined;
  return {
    driver: dev.format,
    'node-name': blockNodeName(dev.id),
    'read-only': dev.readOnly ?? false,
    ...(cache ? { cache } : {}),
    file: { driver: dev.hostDevice ? 'host_device' : 'file', filename: dev.file, aio: dev.aio ?? 'threads' },
  };
}

/**
 * The disk: `blockdev-add` (see {@link blockdevOf}) and `device_add` of virtio-blk (suffixed per
 * transport) or scsi-hd on the controller. The device keeps govmm's `scsi=off`, `config-wce=off`
 * (unless `wce`) and `serial=<id>` (cut to 20 bytes, virtio-blk's limit), plus `id=<id>` so QMP
 * can find and unplug it under /machine/peripheral.
 *
 * @example
 * blockObjects({ type: 'block', id: 'd0', file: '/img', format: 'raw', driver: 'virtio-blk' },
 *   { arch: 'amd64', machineType: 'q35' })
 * // => { blockdevs: [{ driver: 'raw', 'node-name': 'drive-d0', 'read-only': false, file: { driver: 'file', filename: '/img', aio: 'threads' } }],
 * //      device: { driver: 'virtio-blk-pci', drive: 'drive-d0', id: 'd0', scsi: false, 'config-wce': false, serial: 'd0' } }
 */
export function blockObjects(dev: BlockDevice, ctx: DeviceContext): QemuObjects {
  validateBlock(dev, ctx);
  const node = blockNodeName(dev.id);
  let device: DeviceAddArgs;
  if (dev.driver === 'scsi-hd') {
    const scsi = dev.scsi!;
    device = {
      driver: 'scsi-hd',
      drive: node,
      id: dev.id,
      bus: scsi.bus,
      'scsi-id': scsi.scsiId,
      lun: scsi.lun,
      ...(dev.shareRW ? { 'share-rw': true } : {}),
    };
  } else {
    const transport = dev.driver === 'virtio-blk' ? resolveTransport(dev, ctx) : transportOf(dev.driver);
    const driver = dev.driver === 'virtio-blk' ? virtioDriver('virtio-blk', transport) : dev.driver;
    const t = { ...dev, transport };
    const props: DeviceProps = { ...modernProps(t, ctx), drive: node, id: dev.id, scsi: false };
    // govmm: `scsi=off` unless SCSI passthrough is asked (never: deprecated upstream), `config-wce=off` unless WCE.
    if (!dev.wce) props['config-wce'] = false;
    Object.assign(props, transportProps(t, ctx));
    if (dev.shareRW) props['share-rw'] = true;
    props.serial = dev.id.slice(0, VIRTIO_BLK_SERIAL_MAX);
    device = { driver, ...props };
  }
  return { blockdevs: [blockdevOf(dev)], device };
}

function transportOf(driver: BlockDevice['driver']): NonNullable<BlockDevice['transport']> {
  if (driver.endsWith('-ccw')) return 'ccw';
  if (driver.endsWith('-device')) return 'mmio';
  return 'pci';
}

/**
 * An nvdimm: `object-add memory-backend-file` + `device_add nvdimm` (govmm `Object`, and
 * `ExecuteNVDIMMDeviceAdd` for hot plug). The machine needs `nvdimm=on` and `-m ...,slots=,maxmem=`
 * (the plan's job).
 *
 * @example
 * nvdimmObjects({ type: 'nvdimm', id: 'mem0', deviceId: 'nv0', memPath: '/img', size: 134217728, readOnly: true }, ctx)
 * // => { objects: [{ 'qom-type': 'memory-backend-file', id: 'mem0', 'mem-path': '/img', size: 134217728, readonly: true }],
 * //      device: { driver: 'nvdimm', id: 'nv0', memdev: 'mem0', unarmed: true } }
 */
export function nvdimmObjects(dev: NvdimmDevice, ctx: DeviceContext): QemuObjects {
  validateNvdimm(dev, ctx);
  return {
    objects: [
      {
        'qom-type': 'memory-backend-file',
        id: dev.id,
        'mem-path': dev.memPath,
        size: dev.size,
        ...(dev.share ? { share: true } : {}),
        ...(dev.pmem !== undefined ? { pmem: dev.pmem } : {}),
        ...(dev.readOnly ? { readonly: true } : {}),
      },
    ],
    device: {
      driver: 'nvdimm',
      id: dev.deviceId,
      memdev: dev.id,
      ...(dev.readOnly ? { unarmed: true } : {}),
    },
  };
}
