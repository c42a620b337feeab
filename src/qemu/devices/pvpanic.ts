// pvpanic (govmm `PVPanicDevice`): lets the guest report a panic as a GUEST_PANICKED QMP event.
import type { DeviceContext, PvpanicDevice } from './types.js';
import { validatePvpanic } from './validate.js';

/**
 * `-device pvpanic` (the ISA device on amd64) or `-device pvpanic-pci` (arm64 virt, ppc64le
 * pseries: no ISA bus there; govmm only knows the ISA one), plus `-no-shutdown` when asked.
 * s390x has no pvpanic (it reports panics through the SCLP/diag path) and is refused.
 *
 * @example
 * pvpanicArgs({ type: 'pvpanic', noShutdown: true }, { arch: 'amd64', machineType: 'q35' })
 * // => ['-device', 'pvpanic', '-no-shutdown']
 */
export function pvpanicArgs(dev: PvpanicDevice, ctx: DeviceContext): string[] {
  validatePvpanic(dev, ctx);
  const out = ['-device', ctx.arch === 'amd64' ? 'pvpanic' : 'pvpanic-pci'];
  if (dev.noShutdown) out.push('-no-shutdown');
  return out;
}
