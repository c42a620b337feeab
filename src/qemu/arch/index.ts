// The arch tables, looked up by arch and machine type.
import { UnsupportedMachineError } from '../errors.js';
import { amd64 } from './amd64.js';
import { arm64 } from './arm64.js';
import { ppc64le } from './ppc64le.js';
import { s390x } from './s390x.js';
import { ARCHES, type Arch, type ArchSpec, type MachineSpec } from './types.js';

export type { Accelerator, Arch, ArchSpec, MachineSpec, MemoryTopology, SmpTopology } from './types.js';
export { ARCHES } from './types.js';

const TABLE: Readonly<Record<Arch, ArchSpec>> = { amd64, arm64, ppc64le, s390x };

/** The arch table of `arch`; unknown arch → `UnsupportedMachineError`. */
export function archSpec(arch: string): ArchSpec {
  if (!(ARCHES as readonly string[]).includes(arch)) {
    throw new UnsupportedMachineError(`Expected \`arch\` to be one of ${ARCHES.join(', ')}, got \`${arch}\``);
  }
  return TABLE[arch as Arch];
}

/** The machine spec of `machineType` (default: the arch's default machine); unknown → typed error. */
export function machineSpec(arch: string, machineType?: string): MachineSpec {
  const spec = archSpec(arch);
  const type = machineType === undefined || machineType === '' ? spec.defaultMachineType : machineType;
  const m = spec.machines.find((x) => x.type === type);
  if (!m) {
    const known = spec.machines.map((x) => x.type).join(', ');
    throw new UnsupportedMachineError(
      `Expected \`machineType\` for ${arch} to be one of ${known}, got \`${type}\``,
    );
  }
  return m;
}
