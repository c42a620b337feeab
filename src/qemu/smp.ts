// vCPU topology (Kata's cpuTopology) and its `-smp` argument.
import type { SmpTopology } from './arch/types.js';

/**
 * Kata's topology: one socket per possible vCPU, one core and one thread each.
 *
 * @example
 * cpuTopology(1, 4) // => { cpus: 1, cores: 1, threads: 1, sockets: 4, maxCpus: 4 }
 */
export function cpuTopology(vcpus: number, maxVcpus: number): SmpTopology {
  const max = Math.max(vcpus, maxVcpus);
  return { cpus: vcpus, cores: 1, threads: 1, sockets: max, maxCpus: max };
}

/** The `-smp` value: `cpus,cores=,threads=,sockets=,maxcpus=`. */
export function smpArg(t: SmpTopology): string {
  return `${t.cpus},cores=${t.cores},threads=${t.threads},sockets=${t.sockets},maxcpus=${t.maxCpus}`;
}
