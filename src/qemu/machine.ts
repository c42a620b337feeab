// The `-machine` argument: type, accelerator, per-arch options, nvdimm and user accelerators.
import type { Accelerator, MachineSpec } from './arch/types.js';

/** Inputs of {@link machineArg} beyond the arch table. */
export interface MachineArgOptions {
  readonly accel: Accelerator;
  /** Add `nvdimm=on` (an nvdimm image or pmem device is present). */
  readonly nvdimm?: boolean;
  /** `memory-backend=<id>` for machines without NUMA (s390x) when RAM has an explicit backend. */
  readonly memoryBackend?: string;
  /** Further options from the plan (e.g. `kernel_irqchip=split` for the vIOMMU under KVM). */
  readonly extraOptions?: readonly string[];
  /** Kata's `machine_accelerators`: appended verbatim (already `k=v,k2=v2` syntax, validated by config). */
  readonly machineAccelerators?: string;
}

/**
 * Builds `-machine` like Kata's getQemuMachine: `<type>,accel=<accel>,<arch options>` plus the
 * user's `machine_accelerators` last.
 *
 * @example
 * machineArg(machineSpec('amd64', 'q35'), { accel: 'tcg' }) // => 'q35,accel=tcg'
 */
export function machineArg(m: MachineSpec, o: MachineArgOptions): string {
  const parts = [
    m.type,
    `accel=${o.accel}`,
    ...m.options,
    ...(o.accel === 'kvm' ? m.kvmOptions : m.tcgOptions),
  ];
  if (o.nvdimm && m.nvdimm) parts.push('nvdimm=on');
  if (o.memoryBackend) parts.push(`memory-backend=${o.memoryBackend}`);
  if (o.extraOptions) parts.push(...o.extraOptions);
  const extra = o.machineAccelerators?.replace(/^,+/, '').trim();
  if (extra) parts.push(extra);
  // A later `key=` replaces an earlier one (e.g. kernel_irqchip=split over =on).
  const keyOf = (p: string) => p.split('=')[0] ?? p;
  const out = parts.filter(
    (p, i) => !parts.slice(i + 1).some((q) => p.includes('=') && keyOf(q) === keyOf(p)),
  );
  return out.join(',');
}
