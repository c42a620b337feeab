// Shared checks of the device validators: ids, paths, integers, fds, the virtio transport knobs.
// The facts themselves (id syntax, MAC, BDF, socket path limit, CIDs) come from src/devices/rules.ts.
import { ARCHES, fitsSocketPath, MAX_SOCKET_PATH_BYTES, QEMU_ID_RE } from '../../devices/rules.js';
import { QemuDeviceError } from './errors.js';
import { resolveTransport } from './transport.js';
import type { DeviceContext, FdRef, VirtioOptions } from './types.js';

/** A CCW device number `<cssid>.<ssid>.<devno>`. */
export const DEVNO_RE = /^[0-9a-fA-F]{1,2}\.[0-3]\.[0-9a-fA-F]{4}$/;
/** A PCI slot[.function] as QEMU's `addr=` takes it. */
export const PCI_ADDR_RE = /^(0x)?[0-9a-fA-F]{1,2}(\.(0x)?[0-7])?$/;
/** A size with an optional binary suffix. */
export const SIZE_RE = /^\d+[KMGT]?$/;
/** A PCI vendor/device id. */
export const PCI_ID_RE = /^(0x[0-9a-fA-F]{1,4}|\d{1,5})$/;
/** A monitor fd name (`getfd` `fdname`): QEMU wants it to start with a letter. */
const FD_NAME_RE = /^[A-Za-z][A-Za-z0-9_.-]*$/;

export function fail(field: string, expected: string, got: unknown): never {
  throw new QemuDeviceError(field, expected, got);
}

export function id(field: string, v: unknown): void {
  if (typeof v !== 'string' || !QEMU_ID_RE.test(v)) {
    fail(field, 'a QEMU id (a letter, then letters, digits, `-`, `.`, `_`)', v);
  }
}

export function optId(field: string, v: unknown): void {
  if (v !== undefined) id(field, v);
}

export function absPath(field: string, v: unknown): void {
  if (typeof v !== 'string' || !v.startsWith('/') || v.includes('\0')) {
    fail(field, 'an absolute path without NUL bytes', v);
  }
}

export function socketPath(field: string, v: unknown): void {
  absPath(field, v);
  if (!fitsSocketPath(v as string)) {
    fail(field, `a Unix socket path of at most ${MAX_SOCKET_PATH_BYTES} bytes (or pass an fd)`, v);
  }
}

export function nonEmpty(field: string, v: unknown): void {
  if (typeof v !== 'string' || v === '' || v.includes('\0')) fail(field, 'a non-empty string', v);
}

export function oneOf<T extends string>(field: string, v: unknown, allowed: readonly T[]): void {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    fail(field, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, v);
  }
}

export function int(field: string, v: unknown, min: number, max: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(field, `an integer in ${min}..${max}`, v);
  }
}

export function optInt(field: string, v: unknown, min: number, max: number): void {
  if (v !== undefined) int(field, v, min, max);
}

export function optBool(field: string, v: unknown): void {
  if (v !== undefined && typeof v !== 'boolean') fail(field, 'a boolean', v);
}

export function optSize(field: string, v: unknown): void {
  if (v !== undefined && (typeof v !== 'string' || !SIZE_RE.test(v))) {
    fail(field, 'a size like `1M`, `32M`, `2G`', v);
  }
}

/** An fd as QEMU sees it: a number ≥ 3 (0-2 are stdio) or a monitor fd name (hot plug). */
export function fd(field: string, v: unknown): void {
  if (typeof v === 'string') {
    if (!FD_NAME_RE.test(v)) fail(field, 'an fd number or a monitor fd name', v);
    return;
  }
  int(field, v, 3, 0x7fff_ffff);
}

/** A list of distinct fds ({@link fd}). */
export function fdList(field: string, v: unknown): readonly FdRef[] {
  if (!Array.isArray(v)) fail(field, 'an array of fd numbers', v);
  for (const [i, x] of v.entries()) fd(`${field}[${i}]`, x);
  if (new Set(v).size !== v.length) fail(field, 'distinct fd numbers', v);
  return v as readonly FdRef[];
}

/** Checks the context every builder receives. */
export function validateContext(ctx: DeviceContext): void {
  if (typeof ctx !== 'object' || ctx === null) fail('ctx', 'an object `{ arch, machineType }`', ctx);
  oneOf('ctx.arch', ctx.arch, ARCHES);
  nonEmpty('ctx.machineType', ctx.machineType);
}

/**
 * Transport knobs: `ccw` only on s390x, `mmio` only where a virtio-mmio bus exists (microvm, arm64
 * virt), `devno` in CCW form, `addr` a PCI slot[.function]. PCI-only knobs (`disableModern`,
 * `romfile`) and CCW-only ones (`devno`) are ignored on other transports, as in govmm.
 */
export function validateVirtio(prefix: string, dev: VirtioOptions, ctx: DeviceContext): void {
  if (dev.transport !== undefined) oneOf(`${prefix}.transport`, dev.transport, ['pci', 'ccw', 'mmio']);
  const t = resolveTransport(dev, ctx);
  if (t === 'ccw' && ctx.arch !== 's390x') fail(`${prefix}.transport`, "'ccw' only on arch s390x", t);
  if (
    t === 'mmio' &&
    !(ctx.machineType === 'microvm' || (ctx.arch === 'arm64' && ctx.machineType === 'virt'))
  ) {
    fail(`${prefix}.transport`, "'mmio' only on machine `microvm` or arm64 `virt`", t);
  }
  optBool(`${prefix}.disableModern`, dev.disableModern);
  optBool(`${prefix}.iommuPlatform`, dev.iommuPlatform);
  if (dev.iommuPlatform && dev.disableModern && t === 'pci') {
    // QEMU 7.2: "VIRTIO_F_IOMMU_PLATFORM was supported by neither legacy nor transitional device".
    fail(
      `${prefix}.iommuPlatform`,
      'absent with `disableModern` (a legacy virtio device has no IOMMU platform)',
      true,
    );
  }
  if (dev.romfile !== undefined && (typeof dev.romfile !== 'string' || dev.romfile.includes('\0'))) {
    fail(`${prefix}.romfile`, 'a path, or empty to disable the option ROM', dev.romfile);
  }
  if (dev.devno !== undefined && (typeof dev.devno !== 'string' || !DEVNO_RE.test(dev.devno))) {
    fail(`${prefix}.devno`, 'a CCW device number `<cssid>.<ssid>.<devno>` like `fe.0.0001`', dev.devno);
  }
  optId(`${prefix}.bus`, dev.bus);
  if (dev.addr !== undefined && (typeof dev.addr !== 'string' || !PCI_ADDR_RE.test(dev.addr))) {
    fail(`${prefix}.addr`, 'a PCI slot[.function] in hex like `02` or `1f.3`', dev.addr);
  }
  if (dev.addr !== undefined && t !== 'pci')
    fail(`${prefix}.addr`, `absent on the ${t} transport (PCI only)`, dev.addr);
}

/** The transport an explicitly suffixed driver name implies (`-ccw`, `-device` → mmio, else pci). */
export function explicitTransport(driver: string): VirtioOptions['transport'] {
  if (driver.endsWith('-ccw')) return 'ccw';
  if (driver.endsWith('-device')) return 'mmio';
  return 'pci';
}

/** q35 or a versioned q35 machine. */
export function isQ35(machineType: string): boolean {
  return machineType === 'q35' || machineType.startsWith('pc-q35');
}
