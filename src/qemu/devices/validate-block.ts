// Validation of disks: govmm `BlockDevice.Valid()` / nvdimm `Object.Valid()` / `SCSIController.Valid()`, plus QEMU 7.2 rules.
import type { BlockDevice, DeviceContext, NvdimmDevice, ScsiControllerDevice } from './types.js';
import {
  absPath,
  explicitTransport,
  fail,
  id,
  int,
  nonEmpty,
  oneOf,
  optBool,
  optId,
  optInt,
  validateContext,
  validateVirtio,
} from './validate-common.js';

/** govmm `BlockDevice.Valid()`: driver, id and file set; plus scsi-hd addressing and aio/cache rules. */
export function validateBlock(dev: BlockDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  oneOf('block.driver', dev.driver, [
    'virtio-blk',
    'scsi-hd',
    'virtio-blk-pci',
    'virtio-blk-ccw',
    'virtio-blk-device',
  ]);
  id('block.id', dev.id);
  absPath('block.file', dev.file);
  oneOf('block.format', dev.format, ['raw', 'qcow2']);
  if (dev.aio !== undefined) oneOf('block.aio', dev.aio, ['threads', 'native', 'io_uring']);
  optBool('block.shareRW', dev.shareRW);
  optBool('block.readOnly', dev.readOnly);
  optBool('block.wce', dev.wce);
  optBool('block.cache.direct', dev.cache?.direct);
  optBool('block.cache.noFlush', dev.cache?.noFlush);
  if (dev.aio === 'native' && dev.cache?.direct !== true) {
    fail(
      'block.cache.direct',
      'true when `aio` is `native` (QEMU requires O_DIRECT for native AIO)',
      dev.cache?.direct,
    );
  }
  if (dev.driver === 'scsi-hd') {
    if (dev.scsi === undefined) fail('block.scsi', '`{ bus, scsiId, lun }` for driver scsi-hd', dev.scsi);
    nonEmpty('block.scsi.bus', dev.scsi.bus);
    int('block.scsi.scsiId', dev.scsi.scsiId, 0, 255);
    int('block.scsi.lun', dev.scsi.lun, 0, 16383);
  } else {
    if (dev.scsi !== undefined) fail('block.scsi', 'absent unless driver is scsi-hd', dev.scsi);
    const t = dev.driver === 'virtio-blk' ? dev : { ...dev, transport: explicitTransport(dev.driver) };
    validateVirtio('block', t, ctx);
  }
}

/** govmm `Object.Valid()` for an NVDIMM: ids, mem-path and a positive size. */
export function validateNvdimm(dev: NvdimmDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  if (ctx.arch === 's390x') fail('ctx.arch', 'an arch with NVDIMM support (not s390x)', ctx.arch);
  id('nvdimm.id', dev.id);
  id('nvdimm.deviceId', dev.deviceId);
  absPath('nvdimm.memPath', dev.memPath);
  int('nvdimm.size', dev.size, 1, Number.MAX_SAFE_INTEGER);
  optBool('nvdimm.readOnly', dev.readOnly);
}

/** govmm `SCSIController.Valid()`: id set; iothread a QEMU id. */
export function validateScsiController(dev: ScsiControllerDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  id('scsi-controller.id', dev.id);
  optId('scsi-controller.iothread', dev.iothread);
  optInt('scsi-controller.numQueues', dev.numQueues, 1, 1024);
  validateVirtio('scsi-controller', dev, ctx);
}
