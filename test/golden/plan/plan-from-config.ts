// How a fixture's config becomes a plan (one place, so the golden, acceptance and CLI tests agree).
import type { SandboxConfig } from '../../../src/config/types.js';
import { validateConfig } from '../../../src/config/validate.js';
import { type PlanQemuOptions, planQemu, type QemuPlan } from '../../../src/qemu/plan.js';

/** Validates a fixture config (typed ConfigError on bad input) with the fixture's host facts, then plans it. */
export function planFromConfig(config: SandboxConfig, opts: PlanQemuOptions): QemuPlan {
  const validated = validateConfig(config, {
    ...(opts.hostCpus !== undefined ? { hostCpus: opts.hostCpus } : {}),
    ...(opts.hostMemoryMiB !== undefined ? { hostMemoryMiB: opts.hostMemoryMiB } : {}),
  });
  return planQemu(validated, opts);
}
