// Virtio transport rules: which bus suffix a virtio device gets per arch/machine (govmm's
// `VirtioTransport`, `isVirtioPCI`, `isVirtioCCW`) and the knobs that only apply to one transport.
import type { OptionPart } from '../escape.js';
import type { DeviceContext, VirtioOptions, VirtioTransport } from './types.js';

/** The transport a virtio device gets when it does not ask: s390x → ccw, microvm → mmio, else pci. */
export function defaultTransport(ctx: DeviceContext): VirtioTransport {
  if (ctx.arch === 's390x') return 'ccw';
  if (ctx.machineType === 'microvm') return 'mmio';
  return 'pci';
}

/** The device's explicit transport, or the context's default. */
export function resolveTransport(dev: VirtioOptions, ctx: DeviceContext): VirtioTransport {
  return dev.transport ?? defaultTransport(ctx);
}

/** True when the device sits on PCI (govmm `isVirtioPCI`). */
export function isVirtioPCI(dev: VirtioOptions, ctx: DeviceContext): boolean {
  return resolveTransport(dev, ctx) === 'pci';
}

/** True when the device sits on the s390x channel subsystem (govmm `isVirtioCCW`). */
export function isVirtioCCW(dev: VirtioOptions, ctx: DeviceContext): boolean {
  return resolveTransport(dev, ctx) === 'ccw';
}

const SUFFIX: Record<VirtioTransport, string> = { pci: '-pci', ccw: '-ccw', mmio: '-device' };

/**
 * QEMU driver name of a virtio device for a transport: `virtio-net` → `virtio-net-pci` /
 * `virtio-net-ccw` / `virtio-net-device` (mmio).
 *
 * @example
 * virtioDriver('vhost-vsock', 'ccw') // => 'vhost-vsock-ccw'
 */
export function virtioDriver(base: string, transport: VirtioTransport): string {
  return `${base}${SUFFIX[transport]}`;
}

/** `disable-modern=on` when asked and on PCI (legacy virtio exists only there). */
export function modernParts(dev: VirtioOptions, ctx: DeviceContext): OptionPart[] {
  return dev.disableModern && isVirtioPCI(dev, ctx) ? [['disable-modern', true]] : [];
}

/**
 * The trailing transport knobs in govmm's order: bus/addr, then `romfile` (PCI) or `devno` (CCW),
 * then `iommu_platform`.
 */
export function transportParts(dev: VirtioOptions, ctx: DeviceContext): OptionPart[] {
  const out: OptionPart[] = [];
  if (dev.bus !== undefined) out.push(['bus', dev.bus]);
  if (dev.addr !== undefined) out.push(['addr', dev.addr]);
  const t = resolveTransport(dev, ctx);
  if (t === 'pci' && dev.romfile !== undefined) out.push(['romfile', dev.romfile]);
  if (t === 'ccw' && dev.devno !== undefined) out.push(['devno', dev.devno]);
  if (dev.iommuPlatform) {
    // QEMU 7.2 refuses iommu_platform on a transitional virtio-pci device ("supported by neither
    // legacy nor transitional device"): on PCI it comes with `disable-legacy=on` (modern only).
    if (t === 'pci') out.push(['disable-legacy', true]);
    out.push(['iommu_platform', true]);
  }
  return out;
}
