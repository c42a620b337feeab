// Shapes of the per-arch tables: machines, root buses, bridge types, CPU and memory topology.
import type { Arch } from '../../devices/rules.js';

export type { Arch } from '../../devices/rules.js';
export { ARCHES } from '../../devices/rules.js';

import type { BridgeType } from '../../devices/bridges.js';

/** The accelerator QEMU runs the guest with. */
export type Accelerator = 'kvm' | 'tcg';

/** One machine type of an arch table. */
export interface MachineSpec {
  /** QEMU machine type, e.g. `q35`. */
  readonly type: string;
  /** Options always appended to `-machine` (no accel), e.g. `usb=off`. */
  readonly options: readonly string[];
  /** Options appended only when the accelerator is KVM (e.g. `kernel_irqchip=on`, `gic-version=host`). */
  readonly kvmOptions: readonly string[];
  /** Options appended only under TCG (e.g. `gic-version=max`). */
  readonly tcgOptions: readonly string[];
  /** Root bus the bridges and root-bus devices attach to (`pci.0`, `pcie.0`), none on CCW. */
  readonly rootBus: string | undefined;
  /** Type of the bridges `default_bridges` creates. */
  readonly bridgeType: BridgeType;
  /** True when the root bus is PCI Express (q35, virt): root ports are possible. */
  readonly pcie: boolean;
  /** True when the machine supports `nvdimm=on` (amd64 pc/q35, arm64 virt). */
  readonly nvdimm: boolean;
}

/** vCPU topology as QEMU's `-smp` takes it. */
export interface SmpTopology {
  readonly cpus: number;
  readonly cores: number;
  readonly threads: number;
  readonly sockets: number;
  readonly maxCpus: number;
}

/** Guest memory as QEMU's `-m` takes it, in MiB. */
export interface MemoryTopology {
  readonly sizeMiB: number;
  readonly slots: number;
  readonly maxMemMiB: number;
}

/** The per-arch table (Kata's `qemuArch` for one GOARCH). */
export interface ArchSpec {
  readonly arch: Arch;
  /** Debian's binary name for this arch. */
  readonly qemuBinary: string;
  readonly defaultMachineType: string;
  readonly machines: readonly MachineSpec[];
  /** CPU model for an accelerator (Kata: `host`; under TCG `host` does not exist). */
  cpuModel(accel: Accelerator, nested: boolean): string;
  /** Memory topology: size, hotplug slots, maxmem from host memory (+ nvdimm offset). */
  memoryTopology(memoryMiB: number, hostMemoryMiB: number, slots: number, offsetMiB: number): MemoryTopology;
  /** True when the machine takes `-numa node,memdev=` for its RAM backend (s390x has no NUMA). */
  readonly numa: boolean;
  /** True when `-m slots=,maxmem=` (memory hotplug) is supported. */
  readonly memoryHotplug: boolean;
}
