// Device validation: govmm's `Valid()` per device, plus what QEMU 7.2 would refuse at start-up,
// as a typed `QemuDeviceError` naming the field, before anything is launched. One module per
// family (validate-block, -net, -char, -pci, -misc); this one dispatches on `type`.
import type { DeviceContext, QemuDevice } from './types.js';
import { validateBlock, validateNvdimm, validateScsiController } from './validate-block.js';
import { validateChar, validateFs, validateSerial } from './validate-char.js';
import { fail } from './validate-common.js';
import {
  validateBalloon,
  validateLoader,
  validatePvpanic,
  validateRng,
  validateVsock,
} from './validate-misc.js';
import { validateNet, validateVhostUser } from './validate-net.js';
import { validateBridge, validateIommu, validatePcieRootPort, validateVfio } from './validate-pci.js';

export { validateBlock, validateNvdimm, validateScsiController } from './validate-block.js';
export { validateChar, validateFs, validateSerial } from './validate-char.js';
export { validateContext, validateVirtio } from './validate-common.js';
export {
  validateBalloon,
  validateLoader,
  validatePvpanic,
  validateRng,
  validateVsock,
} from './validate-misc.js';
export { validateNet, validateVhostUser } from './validate-net.js';
export { validateBridge, validateIommu, validatePcieRootPort, validateVfio } from './validate-pci.js';

/**
 * Validates any device descriptor; throws `QemuDeviceError` (`ERR_QEMU_DEVICE_INVALID`) naming
 * the first offending field.
 *
 * @example
 * validateDevice({ type: 'vsock', id: 'vs0', contextId: 2 }, { arch: 'amd64', machineType: 'q35' })
 * // throws QemuDeviceError: Expected `vsock.contextId` to be an integer in 3..4294967294, got `2`
 */
export function validateDevice(dev: QemuDevice, ctx: DeviceContext): void {
  if (typeof dev !== 'object' || dev === null) fail('device', 'a device descriptor object', dev);
  switch (dev.type) {
    case 'block':
      validateBlock(dev, ctx);
      break;
    case 'nvdimm':
      validateNvdimm(dev, ctx);
      break;
    case 'fs':
      validateFs(dev, ctx);
      break;
    case 'char':
      validateChar(dev, ctx);
      break;
    case 'serial':
      validateSerial(dev, ctx);
      break;
    case 'net':
      validateNet(dev, ctx);
      break;
    case 'vhost-user':
      validateVhostUser(dev, ctx);
      break;
    case 'vfio':
      validateVfio(dev, ctx);
      break;
    case 'scsi-controller':
      validateScsiController(dev, ctx);
      break;
    case 'bridge':
      validateBridge(dev, ctx);
      break;
    case 'pcie-root-port':
      validatePcieRootPort(dev, ctx);
      break;
    case 'vsock':
      validateVsock(dev, ctx);
      break;
    case 'rng':
      validateRng(dev, ctx);
      break;
    case 'balloon':
      validateBalloon(dev, ctx);
      break;
    case 'iommu':
      validateIommu(dev, ctx);
      break;
    case 'loader':
      validateLoader(dev, ctx);
      break;
    case 'pvpanic':
      validatePvpanic(dev, ctx);
      break;
    default:
      fail('device.type', 'a known device type', (dev as { type?: unknown }).type);
  }
}
