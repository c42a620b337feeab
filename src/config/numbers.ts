// Size and count rules: vCPUs within defaultMaxVCPUs and MaxQemuVCPUs, memory within 256 MiB..host, bridges, slots.
import { expected } from './checks.js';
import { ARCH_DEFAULTS, MAX_BRIDGES, MIN_HYPERVISOR_MEMORY_MIB } from './defaults.js';
import type { HypervisorDraft } from './hypervisor.js';

/** Largest `-m slots=` QEMU takes. */
const MAX_MEM_SLOTS = 255;

/**
 * Kata's `valid()` limits (0 already means "unset" in the knob table): `numVCPUs` ≤
 * `defaultMaxVCPUs` ≤ the arch's MaxQemuVCPUs; `memorySize` ≥ 256 MiB and ≤ host memory (it
 * bounds maxmem in qemu.go `memoryTopology`); ≤ 5 bridges (Kata's `maxPCIBridges`); ≤ 255 slots.
 */
export function checkNumbers(d: HypervisorDraft): void {
  const { hv, issues } = d;
  const cap = ARCH_DEFAULTS[hv.arch].maxVCPUs;
  if (hv.defaultMaxVCPUs > cap) {
    expected(
      issues,
      'hypervisor.defaultMaxVCPUs',
      `at most ${cap} (MaxQemuVCPUs on ${hv.arch})`,
      hv.defaultMaxVCPUs,
    );
  }
  if (hv.numVCPUs > hv.defaultMaxVCPUs) {
    const what = `at most \`hypervisor.defaultMaxVCPUs\` (${hv.defaultMaxVCPUs})`;
    expected(issues, 'hypervisor.numVCPUs', what, hv.numVCPUs);
  }
  if (hv.memorySize < MIN_HYPERVISOR_MEMORY_MIB) {
    expected(
      issues,
      'hypervisor.memorySize',
      `an integer ≥ ${MIN_HYPERVISOR_MEMORY_MIB} (MiB)`,
      hv.memorySize,
    );
  } else if (hv.memorySize > d.host.memoryMiB) {
    const what = `at most the host memory (${d.host.memoryMiB} MiB), as it bounds QEMU's maxmem`;
    expected(issues, 'hypervisor.memorySize', what, hv.memorySize);
  }
  if (hv.defaultBridges > MAX_BRIDGES) {
    expected(
      issues,
      'hypervisor.defaultBridges',
      `at most ${MAX_BRIDGES} (Kata's cold-plug limit)`,
      hv.defaultBridges,
    );
  }
  if (hv.memSlots > MAX_MEM_SLOTS) {
    expected(issues, 'hypervisor.memSlots', `at most ${MAX_MEM_SLOTS} (QEMU memory slots)`, hv.memSlots);
  }
}
