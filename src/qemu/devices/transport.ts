// Virtio transport rules: which bus suffix a virtio device gets per arch/machine (govmm's
// `VirtioTransport`, `isVirtioPCI`, `isVirtioCCW`) and the knobs that only apply to one transport.
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

/**
 * A PCI `addr` in QEMU's canonical `slot[.fn]` hex form (`0x1c.0x1` → `1c.1`): what QEMU prints
 * and what QMP schema checks expect; QEMU also reads the `0x` form.
 *
 * @example
 * pciAddr('0x1c.0x1') // => '1c.1'
 */
export function pciAddr(addr: string): string {
  return addr
    .split('.')
    .map((p) => p.replace(/^0x/i, ''))
    .join('.');
}

/** qdev properties of a device, as `device_add` and `-device '{...}'` take them. */
export type DeviceProps = Record<string, string | number | boolean>;

/** `disable-modern: true` when asked and on PCI (legacy virtio exists only there). */
export function modernProps(dev: VirtioOptions, ctx: DeviceContext): DeviceProps {
  return dev.disableModern && isVirtioPCI(dev, ctx) ? { 'disable-modern': true } : {};
}

/**
 * The transport properties in govmm's order: bus/addr, then `romfile` (PCI) or `devno` (CCW),
 * then `iommu_platform`.
 */
export function transportProps(dev: VirtioOptions, ctx: DeviceContext): DeviceProps {
  const out: DeviceProps = {};
  if (dev.bus !== undefined) out.bus = dev.bus;
  if (dev.addr !== undefined) out.addr = pciAddr(dev.addr);
  const t = resolveTransport(dev, ctx);
  if (t === 'pci' && dev.romfile !== undefined) out.romfile = dev.romfile;
  if (t === 'ccw' && dev.devno !== undefined) out.devno = dev.devno;
  if (dev.iommuPlatform) {
    // QEMU 7.2 refuses iommu_platform on a transitional virtio-pci device ("supported by neither
    // legacy nor transitional device"): on PCI it comes with `disable-legacy` (modern only), an
    // OnOffAuto property, so the JSON value is the string `on`.
    if (t === 'pci') out['disable-legacy'] = 'on';
    out.iommu_platform = true;
  }
  return out;
}
