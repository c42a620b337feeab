// Typed error for a device descriptor that cannot become a QEMU argv fragment.
import { VmactorError } from '../../errors/vmactor-error.js';

/**
 * A device descriptor failed validation (govmm's `Valid()`, plus what QEMU 7.2 would refuse);
 * thrown before anything is launched. `field` is the offending path, e.g. `block.file`.
 */
export class QemuDeviceError extends VmactorError {
  override readonly name = 'QemuDeviceError' as const;
  readonly code = 'ERR_QEMU_DEVICE_INVALID' as const;
  /** Dotted path of the offending field, prefixed with the device type (`net.fds`). */
  readonly field: string;

  constructor(field: string, expected: string, got: unknown, options?: { cause?: unknown }) {
    super(`Expected \`${field}\` to be ${expected}, got \`${show(got)}\``, options);
    this.field = field;
  }
}

function show(v: unknown): string {
  if (v === undefined) return 'undefined';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
