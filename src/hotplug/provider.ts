// The sandbox's operation provider: runOperation and the capacity guard bound to one device record.
import type { Logger } from 'pino';
import type { HasCapacityParams, RolledBackError, RunOperationInput } from '../../machines/sandbox.types.js';
import { DeviceRecord } from '../devices/record.js';
import type { BridgeEntry, DeviceEntry, DeviceRecordData } from '../devices/record-types.js';
import { capacityFor } from './capacity.js';
import {
  type HotplugConfig,
  type HotplugDeadlines,
  type HotplugLimits,
  type HotplugQmp,
  limitsOf,
} from './context.js';
import { HotplugRolledBackError } from './errors.js';
import type { GuestProbe } from './guest-probe.js';
import { runOperation } from './run-operation.js';
import type { OperationResult } from './types.js';

/** Options of {@link createHotplugProvider}. */
export interface HotplugProviderOptions {
  readonly config: HotplugConfig;
  /** The plan's record (`QemuPlan.record`) or a restored one; else one from `devices`/`bridges`/`pcieRootPorts`. */
  readonly record?: DeviceRecord | DeviceRecordData;
  /** Cold-plugged devices (origin `cold`). */
  readonly devices?: readonly DeviceEntry[];
  /** The plan's bridges after cold plug. */
  readonly bridges?: readonly BridgeEntry[];
  readonly pcieRootPorts?: number;
  readonly limits?: Partial<HotplugLimits>;
  /** Per-sandbox deadlines (`deviceDeletedMs`, `guestMs`, `commandMs`); operations may override per call. */
  readonly deadlines?: Partial<HotplugDeadlines>;
  /** The plan's accelerator (`machine.accel`); vCPU hot-remove is refused under TCG. */
  readonly accelerator?: 'kvm' | 'tcg';
  /** Phase two inside the guest; resolved per operation (e.g. `() => agentGuestProbe(await sb.agent())`). */
  readonly guest?: () => Promise<GuestProbe | undefined> | GuestProbe | undefined;
}

/** What the sandbox layer plugs into the machine (structurally its `OperationProvider`). */
export interface HotplugProvider {
  /** Every device of the sandbox, cold and hot (persist with `record.toJSON()`). */
  readonly record: DeviceRecord;
  /** The devices as read-only plain data (`sb.devices()`). */
  devices(): readonly DeviceEntry[];
  /**
   * The `runOperation` actor's body. A {@link HotplugRolledBackError} reaches the machine as
   * `{ rolledBack: true, error }` (its `RolledBackError`), so it emits `failed` (with `error`)
   * then `rolled-back`; every other failure is rejected as is.
   */
  run(
    input: RunOperationInput,
    ctx: { readonly qmp: HotplugQmp; readonly signal: AbortSignal; readonly logger?: Logger },
  ): Promise<OperationResult>;
  /** The machine's `hasCapacity` guard: pure, before any QMP. */
  hasCapacity(params: HasCapacityParams): boolean;
}

function recordOf(opts: HotplugProviderOptions): DeviceRecord {
  if (opts.record instanceof DeviceRecord) return opts.record;
  if (opts.record) return DeviceRecord.fromJSON(opts.record);
  return DeviceRecord.create({
    ...(opts.devices ? { devices: opts.devices } : {}),
    ...(opts.bridges ? { bridges: opts.bridges } : {}),
    ...(opts.pcieRootPorts !== undefined ? { pcieRootPorts: opts.pcieRootPorts } : {}),
  });
}

/**
 * Hot plug for one sandbox: `run` maps the machine's input (`reportApplied`, `paused`, the STOP
 * signal) onto {@link runOperation}; `hasCapacity` is the pure capacity guard.
 *
 * @example
 * ```ts
 * const hotplug = createHotplugProvider({ config: validated.hypervisor, record: plan.record });
 * const sb = openSandbox(spec, { operations: hotplug });
 * await sb.start();
 * await sb.operate({ kind: 'hotplug', device: { kind: 'block', id: 'disk1', file: '/var/lib/disk1.img' } });
 * hotplug.devices().map((d) => `${d.id}:${d.origin}`); // ['disk1:hot']
 * ```
 */
export function createHotplugProvider(opts: HotplugProviderOptions): HotplugProvider {
  const record = recordOf(opts);
  const base = { config: opts.config, ...(opts.limits ? { limits: opts.limits } : {}) };
  return {
    record,
    devices: () => record.toJSON().devices,
    async run(input, ctx) {
      const guest = input.paused ? undefined : await opts.guest?.();
      try {
        return await runOperation(
          {
            qmp: ctx.qmp,
            record,
            config: opts.config,
            sandboxId: input.sandboxId,
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
      } catch (err) {
        if (err instanceof HotplugRolledBackError) {
          const told: RolledBackError = { rolledBack: true, error: err };
          throw told;
        }
        throw err;
      }
    },
    hasCapacity(params) {
      return capacityFor(record, opts.config, limitsOf(base), params.op).ok;
    },
  };
}
