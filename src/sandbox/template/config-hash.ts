// A template's config hash: the QEMU argv planned for a config with the fields Kata's factory checkVMConfig clears reset.
import { buildKernelParams } from '../../config/kernel-params.js';
import type { ValidatedConfig } from '../../config/types.js';
import type { Accelerator } from '../../guest/kvm-probe.js';
import { argvHash } from '../../qemu/argv-hash.js';
import { planQemu } from '../../qemu/plan.js';

/** Host facts the plan depends on (the same host for a template and its clones). */
export interface HashHostFacts {
  readonly accelerator: Accelerator;
  readonly hostCpus: number;
  readonly hostMemoryMiB: number;
}

/** Run dir every hash is planned for, so run-dir paths never make two configs differ. */
const HASH_RUN_DIR = '/run/vmactor/template-hash';
const HASH_ID = 'template';

/**
 * The config a template and a clone must share: id, template role and paths (memory, state)
 * cleared, as Kata's factory `checkVMConfig` resets them before comparing. vCPUs and memory stay:
 * a clone boots with the template's and hot-adds the rest.
 */
export function templateComparable(config: ValidatedConfig): ValidatedConfig {
  return {
    id: HASH_ID,
    hypervisor: {
      ...config.hypervisor,
      bootToBeTemplate: false,
      bootFromTemplate: false,
      memoryPath: '',
      devicesStatePath: '',
    },
    devices: config.devices,
  };
}

/** What a template records of its plan: the argv hash, the QEMU binary, machine type and arch. */
export interface TemplatePlanFacts {
  readonly hash: string;
  readonly binary: string;
  readonly machine: string;
  readonly arch: string;
}

/**
 * SHA-256 (hex) of the QEMU argv planned for {@link templateComparable}`(config)` in a fixed run
 * dir, with the binary, machine and arch: two configs with the same hash give QEMU the same
 * machine, devices and kernel, so the template's device state loads into the clone.
 *
 * @example
 * ```ts
 * templatePlanFacts(validated, { accelerator: 'tcg', hostCpus: 2, hostMemoryMiB: 8192 }).hash; // '3f…'
 * ```
 */
export function templatePlanFacts(config: ValidatedConfig, host: HashHostFacts): TemplatePlanFacts {
  const c = templateComparable(config);
  const plan = planQemu(c, {
    runDir: HASH_RUN_DIR,
    qmpFd: 3,
    virtiofsdFd: 0,
    kernelParams: buildKernelParams(c.hypervisor).cmdline,
    ...host,
  });
  return {
    hash: argvHash(plan.argv),
    binary: plan.argv[0] ?? '',
    machine: plan.machine.type,
    arch: plan.machine.arch,
  };
}
