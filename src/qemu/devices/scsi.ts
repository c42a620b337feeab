// The virtio-scsi controller (govmm `SCSIController`) and its optional iothread object.
import { formatOptions, type OptionPart } from '../escape.js';
import { modernParts, resolveTransport, transportParts, virtioDriver } from './transport.js';
import type { DeviceContext, ScsiControllerDevice } from './types.js';
import { validateScsiController } from './validate.js';

/**
 * `[-object iothread,id=<iothread>] -device virtio-scsi-<transport>,id=<id>[,iothread=...]`.
 * govmm emits the iothread from `Config.IOThreads` before all devices; here it travels with its
 * controller. Disks attach as `scsi-hd` on bus `<id>.0`.
 *
 * @example
 * scsiControllerArgs({ type: 'scsi-controller', id: 'scsi0', iothread: 'io0' }, { arch: 'amd64', machineType: 'q35' })
 * // => ['-object', 'iothread,id=io0', '-device', 'virtio-scsi-pci,id=scsi0,iothread=io0']
 */
export function scsiControllerArgs(dev: ScsiControllerDevice, ctx: DeviceContext): string[] {
  validateScsiController(dev, ctx);
  const device: OptionPart[] = [
    virtioDriver('virtio-scsi', resolveTransport(dev, ctx)),
    ['id', dev.id],
    ...modernParts(dev, ctx),
  ];
  if (dev.iothread !== undefined) device.push(['iothread', dev.iothread]);
  if (dev.numQueues !== undefined) device.push(['num_queues', dev.numQueues]);
  device.push(...transportParts(dev, ctx));
  const out: string[] = [];
  if (dev.iothread !== undefined) out.push('-object', formatOptions(['iothread', ['id', dev.iothread]]));
  out.push('-device', formatOptions(device));
  return out;
}
