// Kata's calcHotplugMemMiBSize: hot-plugged memory rounded up to the guest's memory block size.
import { HotplugInputError } from './errors.js';

/**
 * Rounds `mib` up to a multiple of the guest memory section size (0 = no alignment), as the
 * Kata's `calcHotplugMemMiBSize` does.
 *
 * @example
 * calcHotplugMemMiBSize(100, 128) // => 128
 * calcHotplugMemMiBSize(129, 128) // => 256
 * calcHotplugMemMiBSize(100, 0)   // => 100
 */
export function calcHotplugMemMiBSize(mib: number, memorySectionSizeMiB: number): number {
  if (!Number.isInteger(mib) || mib < 0) {
    throw new HotplugInputError(`Expected \`mib\` to be a non-negative integer, got \`${mib}\``);
  }
  if (!Number.isInteger(memorySectionSizeMiB) || memorySectionSizeMiB < 0) {
    throw new HotplugInputError(
      `Expected \`memoryBlockSizeMiB\` to be a non-negative integer, got \`${memorySectionSizeMiB}\``,
    );
  }
  if (memorySectionSizeMiB === 0) return mib;
  return Math.ceil(mib / memorySectionSizeMiB) * memorySectionSizeMiB;
}
