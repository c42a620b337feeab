// The sandbox's operation provider: binds runOperation and the capacity guard to one sandbox's state.
import type { Logger } from 'pino';
import type { HasCapacityParams, RunOperationInput } from '../../machines/sandbox.types.js';
import type { BridgeState } from '../qemu/bridges.js';
import { capacityFor } from './capacity.js';
import {
  type HotplugConfig,
  type HotplugDeadlines,
  type HotplugLimits,
  type HotplugQmp,
  limitsOf,
} from './context.js';
import { DeviceState } from './device-state.js';
import type { GuestProbe } from './guest-probe.js';
import { runOperation } from './run-operation.js';
import type { OperationResult } from './types.js';

/** Options of {@link createHotplugProvider}. */
export interface HotplugProviderOptions {
  readonly config: HotplugConfig;
  /** A restored state (persistence); else a fresh one from `bridges`/`pcieRootPorts`. */
  readonly state?: DeviceState;
  /** The plan's bridges after cold-plug. */
  readonly bridges?: readonly BridgeState[];
  readonly pcieRootPorts?: number;
  readonly reservedBlockIndexes?: readonly number[];
  readonly limits?: Partial<HotplugLimits>;
  readonly deadlines?: Partial<HotplugDeadlines>;
  /** The plan's accelerator (`machine.accel`); see {@link HotplugContext.accelerator}. */
  readonly accelerator?: 'kvm' | 'tcg';
  /** Phase two inside the guest; resolved per operation (e.g. `() => agentGuestProbe(await sb.agent())`). */
  readonly guest?: () => Promise<GuestProbe | undefined> | GuestProbe | undefined;
}

/** What the sandbox layer plugs into the machine (structurally its `OperationProvider`). */
export interface HotplugProvider {
  /** The sandbox's recorded devices (persist with `state.toJSON()`). */
  readonly state: DeviceState;
  /** The `runOperation` actor's body. */
  run(
    input: RunOperationInput,
    ctx: { readonly qmp: HotplugQmp; readonly signal: AbortSignal; readonly logger?: Logger },
  ): Promise<OperationResult>;
  /** The machine's `hasCapacity` guard: pure, before any QMP. */
  hasCapacity(params: HasCapacityParams): boolean;
}

/**
 * Hot-plug for one sandbox: `run` maps the machine's input (`reportApplied`, `paused`, the STOP
 * signal) onto {@link runOperation}; `hasCapacity` is the pure capacity guard.
 *
 * @example
 * ```ts
 * const hotplug = createHotplugProvider({ config: validated.hypervisor, bridges: plan.bridges });
 * const sb = openSandbox(spec, { operations: hotplug });
 * await sb.start();
 * await sb.operate({ kind: 'hotplug-block', id: 'disk1', file: '/var/lib/disk1.img' });
 * ```
 */
export function createHotplugProvider(opts: HotplugProviderOptions): HotplugProvider {
  const state =
    opts.state ??
    DeviceState.create({
      ...(opts.bridges ? { bridges: opts.bridges } : {}),
      ...(opts.pcieRootPorts !== undefined ? { pcieRootPorts: opts.pcieRootPorts } : {}),
      ...(opts.reservedBlockIndexes ? { reservedBlockIndexes: opts.reservedBlockIndexes } : {}),
    });
  const base = { config: opts.config, ...(opts.limits ? { limits: opts.limits } : {}) };
  return {
    state,
    async run(input, ctx) {
      const guest = input.paused ? undefined : await opts.guest?.();
      return runOperation(
        {
          qmp: ctx.qmp,
          state,
          config: opts.config,
          signal: ctx.signal,
          emit: (phase) => {
            if (phase === 'applied') input.reportApplied();
          },
          paused: input.paused,
          ...(guest ? { guest } : {}),
          ...(ctx.logger ? { logger: ctx.logger } : {}),
          ...(opts.limits ? { limits: opts.limits } : {}),
          ...(opts.accelerator ? { accelerator: opts.accelerator } : {}),
          ...(opts.deadlines ? { deadlines: opts.deadlines } : {}),
        },
        input.op,
      );
    },
    hasCapacity(params) {
      return capacityFor(state, opts.config, limitsOf(base), params.op).ok;
    },
  };
}
