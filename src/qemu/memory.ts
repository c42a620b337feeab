// Guest memory: Kata's memoryTopology (maxmem = host memory + nvdimm offset) and the `-m` argument.
import type { MemoryTopology } from './arch/types.js';

/**
 * Kata's genericMemoryTopology: `size`, `slots` hotplug slots and `maxmem` = host memory plus the
 * memory offset reserved for nvdimm devices (never below `size`).
 *
 * @example
 * genericMemoryTopology(2048, 16384, 10, 0) // => { sizeMiB: 2048, slots: 10, maxMemMiB: 16384 }
 */
export function genericMemoryTopology(
  memoryMiB: number,
  hostMemoryMiB: number,
  slots: number,
  offsetMiB: number,
): MemoryTopology {
  return { sizeMiB: memoryMiB, slots, maxMemMiB: Math.max(memoryMiB, hostMemoryMiB + offsetMiB) };
}

/** The `-m` value: `<size>M,slots=N,maxmem=<max>M` (slots/maxmem only when hotplug slots exist). */
export function memoryArg(m: MemoryTopology): string {
  if (m.slots <= 0) return `${m.sizeMiB}M`;
  return `${m.sizeMiB}M,slots=${m.slots},maxmem=${m.maxMemMiB}M`;
}
