// The virtio-scsi controller (govmm `SCSIController`) and its optional iothread object.
import type { QemuObjects } from './objects.js';
import { modernProps, resolveTransport, transportProps, virtioDriver } from './transport.js';
import type { DeviceContext, ScsiControllerDevice } from './types.js';
import { validateScsiController } from './validate-block.js';

/**
 * [`object-add iothread`] + `device_add virtio-scsi-<transport>,id=<id>[,iothread=...]`. govmm
 * emits the iothread from `Config.IOThreads` before all devices; here it travels with its
 * controller. Disks attach as `scsi-hd` on bus `<id>.0`.
 *
 * @example
 * scsiControllerObjects({ type: 'scsi-controller', id: 'scsi0', iothread: 'io0' }, { arch: 'amd64', machineType: 'q35' })
 * // => { objects: [{ 'qom-type': 'iothread', id: 'io0' }], device: { driver: 'virtio-scsi-pci', id: 'scsi0', iothread: 'io0' } }
 */
export function scsiControllerObjects(dev: ScsiControllerDevice, ctx: DeviceContext): QemuObjects {
  validateScsiController(dev, ctx);
  return {
    ...(dev.iothread !== undefined
      ? { objects: [{ 'qom-type': 'iothread' as const, id: dev.iothread }] }
      : {}),
    device: {
      driver: virtioDriver('virtio-scsi', resolveTransport(dev, ctx)),
      id: dev.id,
      ...modernProps(dev, ctx),
      ...(dev.iothread !== undefined ? { iothread: dev.iothread } : {}),
      ...(dev.numQueues !== undefined ? { num_queues: dev.numQueues } : {}),
      ...transportProps(dev, ctx),
    },
  };
}
