// pvpanic (govmm `PVPanicDevice`): lets the guest report a panic as a GUEST_PANICKED QMP event.
import type { QemuObjects } from './objects.js';
import type { DeviceContext, PvpanicDevice } from './types.js';
import { validatePvpanic } from './validate-misc.js';

/**
 * `device_add pvpanic` (the ISA device on amd64) or `pvpanic-pci` (arm64 virt, ppc64le pseries:
 * no ISA bus there; govmm only knows the ISA one), plus `-no-shutdown` (command line only) when
 * asked. s390x has no pvpanic (it reports panics through the SCLP/diag path) and is refused.
 *
 * @example
 * pvpanicObjects({ type: 'pvpanic', noShutdown: true }, { arch: 'amd64', machineType: 'q35' })
 * // => { device: { driver: 'pvpanic' }, argv: ['-no-shutdown'] }
 */
export function pvpanicObjects(dev: PvpanicDevice, ctx: DeviceContext): QemuObjects {
  validatePvpanic(dev, ctx);
  return {
    device: {
      driver: ctx.arch === 'amd64' ? 'pvpanic' : 'pvpanic-pci',
      ...(dev.id !== undefined ? { id: dev.id } : {}),
    },
    ...(dev.noShutdown ? { argv: ['-no-shutdown'] } : {}),
  };
}
