// Plain data of the supervisor machine: limits, the admitted sandboxes, its events and refusals.
import type { AnyActorRef } from 'xstate';
import type { SANDBOX_DETACHED } from './sandbox.types.js';

/** The host's admission limits (`vmactor serve` options). */
export interface SupervisorLimits {
  /** Most sandboxes held at once (not counting stopped ones). */
  readonly maxSandboxes: number;
  /** Guest memory all held sandboxes may claim together, MiB (default: a share of host memory). */
  readonly memoryBudgetMiB: number;
}

/** One admitted sandbox as the supervisor machine sees it. */
export interface AdmittedSandbox {
  readonly memoryMiB: number;
  /** False once the sandbox reached `stopped` (it then no longer counts against the limits). */
  readonly live: boolean;
}

/** Why a sandbox was not admitted. */
export type AdmissionReason = 'duplicate-id' | 'max-sandboxes' | 'memory-budget' | 'not-serving';

/** A refusal with its reason and a message naming the limit. */
export interface AdmissionRefusal {
  readonly reason: AdmissionReason;
  readonly message: string;
}

/** The supervisor machine's context. */
export interface SupervisorContext {
  readonly limits: SupervisorLimits;
  readonly sandboxes: Readonly<Record<string, AdmittedSandbox>>;
  /** What the boot-time recovery step failed with, if it did (the service serves anyway). */
  readonly recoveryError: unknown;
}

/** Events the supervisor machine takes. */
export type SupervisorMachineEvent =
  | { readonly type: 'ADMIT'; readonly id: string; readonly memoryMiB: number }
  /** A sandbox that exists already (reattached at boot): held without the limits. */
  | { readonly type: 'ADOPT'; readonly id: string; readonly memoryMiB: number }
  | { readonly type: 'STOPPED'; readonly id: string }
  | { readonly type: 'FORGET'; readonly id: string }
  | { readonly type: 'SHUTDOWN'; readonly stopSandboxes: boolean }
  /** A held sandbox was detached: its actor (a child in this system) is stopped. */
  | { readonly type: typeof SANDBOX_DETACHED; readonly actor: AnyActorRef }
  /** A sandbox actor failed (its own handle reports it, as `crashed`); taken so the supervisor does not fail too. */
  | { readonly type: `xstate.error.actor.${string}`; readonly error: unknown };

/** Events the supervisor machine emits. */
export type SupervisorEmitted =
  | { readonly type: 'admitted'; readonly id: string; readonly memoryMiB: number }
  | { readonly type: 'refused'; readonly id: string; readonly refusal: AdmissionRefusal }
  | { readonly type: 'forgotten'; readonly id: string };

/** Input of the supervisor machine. */
export interface SupervisorInput {
  readonly limits: SupervisorLimits;
}

/** Live sandboxes and the memory they claim. */
export function usage(ctx: Pick<SupervisorContext, 'sandboxes'>): { count: number; memoryMiB: number } {
  let count = 0;
  let memoryMiB = 0;
  for (const s of Object.values(ctx.sandboxes)) {
    if (!s.live) continue;
    count += 1;
    memoryMiB += s.memoryMiB;
  }
  return { count, memoryMiB };
}

/**
 * The admission rule (pure; the machine's guard and the service's error message both use it):
 * undefined when `id` with `memoryMiB` fits, else the refusal naming the limit it would break.
 */
export function admissionRefusal(
  ctx: Pick<SupervisorContext, 'sandboxes' | 'limits'>,
  id: string,
  memoryMiB: number,
): AdmissionRefusal | undefined {
  if (ctx.sandboxes[id] !== undefined) {
    return { reason: 'duplicate-id', message: `A sandbox with id \`${id}\` exists already` };
  }
  const { count, memoryMiB: used } = usage(ctx);
  const { maxSandboxes, memoryBudgetMiB } = ctx.limits;
  if (count + 1 > maxSandboxes) {
    return {
      reason: 'max-sandboxes',
      message: `Refused \`${id}\`: the host holds ${count} sandboxes, the maximum is ${maxSandboxes}`,
    };
  }
  if (used + memoryMiB > memoryBudgetMiB) {
    return {
      reason: 'memory-budget',
      message: `Refused \`${id}\`: it asks for ${memoryMiB} MiB, ${used} MiB of the ${memoryBudgetMiB} MiB memory budget are in use`,
    };
  }
  return undefined;
}
