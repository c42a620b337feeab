// Block devices: a `-drive` backend plus virtio-blk or scsi-hd (govmm `BlockDevice`), and NVDIMM
// images (govmm `Object{Driver: NVDIMM, Type: MemoryBackendFile}`).
import { formatOptions, type OptionPart } from '../escape.js';
import { modernParts, resolveTransport, transportParts, virtioDriver } from './transport.js';
import type { BlockDevice, DeviceContext, NvdimmDevice } from './types.js';
import { validateBlock, validateNvdimm } from './validate.js';

/**
 * `-device <virtio-blk-*|scsi-hd>,... -drive id=...,file=...` in govmm's order (device, then drive).
 *
 * QEMU 7.2 choices: the backend stays a legacy `-drive ...,if=none` (what govmm emits; accepted by
 * 7.2, and hotplug uses `blockdev-add` anyway); cache knobs are `cache.direct`/`cache.no-flush`;
 * the device also gets `id=<id>` (govmm leaves it anonymous) so QMP can find and unplug it under
 * /machine/peripheral.
 *
 * @example
 * blockArgs({ type: 'block', id: 'd0', file: '/img', format: 'raw', driver: 'virtio-blk' },
 *   { arch: 'amd64', machineType: 'q35' })
 * // => ['-device', 'virtio-blk-pci,drive=d0,id=d0,scsi=off,config-wce=off,serial=d0',
 * //     '-drive', 'id=d0,file=/img,aio=threads,format=raw,if=none']
 */
export function blockArgs(dev: BlockDevice, ctx: DeviceContext): string[] {
  validateBlock(dev, ctx);
  const device: (OptionPart | undefined)[] = [];
  if (dev.driver === 'scsi-hd') {
    const scsi = dev.scsi!;
    device.push(
      'scsi-hd',
      ['drive', dev.id],
      ['id', dev.id],
      ['bus', scsi.bus],
      ['scsi-id', scsi.scsiId],
      ['lun', scsi.lun],
    );
    if (dev.shareRW) device.push(['share-rw', true]);
  } else {
    const transport = dev.driver === 'virtio-blk' ? resolveTransport(dev, ctx) : undefined;
    const driver = transport ? virtioDriver('virtio-blk', transport) : dev.driver;
    const t = { ...dev, transport: transport ?? transportOf(dev.driver) };
    device.push(driver, ...modernParts(t, ctx), ['drive', dev.id], ['id', dev.id]);
    // govmm: `scsi=off` unless SCSI passthrough is asked (vmactor never asks: deprecated upstream),
    // `config-wce=off` unless WCE.
    device.push(['scsi', false]);
    if (!dev.wce) device.push(['config-wce', false]);
    device.push(...transportParts(t, ctx));
    if (dev.shareRW) device.push(['share-rw', true]);
    device.push(['serial', dev.id]);
  }
  const drive: (OptionPart | undefined)[] = [
    ['id', dev.id],
    ['file', dev.file],
    ['aio', dev.aio ?? 'threads'],
    ['format', dev.format],
    ['if', 'none'],
  ];
  if (dev.cache?.direct !== undefined) drive.push(['cache.direct', dev.cache.direct]);
  if (dev.cache?.noFlush !== undefined) drive.push(['cache.no-flush', dev.cache.noFlush]);
  if (dev.readOnly) drive.push(['readonly', true]);
  return ['-device', formatOptions(device), '-drive', formatOptions(drive)];
}

function transportOf(driver: BlockDevice['driver']): BlockDevice['transport'] {
  if (driver.endsWith('-ccw')) return 'ccw';
  if (driver.endsWith('-device')) return 'mmio';
  return 'pci';
}

/**
 * `-device nvdimm,id=...,memdev=... -object memory-backend-file,...` (govmm `Object` order). The
 * machine needs `nvdimm=on` and `-m ...,slots=,maxmem=` (the plan's job).
 *
 * @example
 * nvdimmArgs({ type: 'nvdimm', id: 'mem0', deviceId: 'nv0', memPath: '/img', size: 134217728, readOnly: true })
 * // => ['-device', 'nvdimm,id=nv0,memdev=mem0,unarmed=on',
 * //     '-object', 'memory-backend-file,id=mem0,mem-path=/img,size=134217728,readonly=on']
 */
export function nvdimmArgs(dev: NvdimmDevice, ctx: DeviceContext): string[] {
  validateNvdimm(dev, ctx);
  const device: OptionPart[] = ['nvdimm', ['id', dev.deviceId], ['memdev', dev.id]];
  const object: OptionPart[] = [
    'memory-backend-file',
    ['id', dev.id],
    ['mem-path', dev.memPath],
    ['size', dev.size],
  ];
  if (dev.readOnly) {
    object.push(['readonly', true]);
    device.push(['unarmed', true]);
  }
  return ['-device', formatOptions(device), '-object', formatOptions(object)];
}
