// runOperation: capacity guard, dispatch on the operation kind, phase reports, typed failures.
import type { SandboxOperation } from '../../machines/operation.types.js';
import { assertCapacity } from './capacity.js';
import { type HotplugContext, limitsOf } from './context.js';
import { resizeVCPUs } from './cpu.js';
import {
  HotplugAbortedError,
  HotplugError,
  HotplugNotSupportedError,
  HotplugRolledBackError,
} from './errors.js';
import { hotplugAddMemory, resizeMemory } from './memory.js';
import { hotplugDevice } from './plug.js';
import { toHotplugError } from './steps.js';
import type { OperationResult } from './types.js';
import { settlePendingRemovals, unplugDevice } from './unplug.js';
import { setupVirtioMem } from './virtio-mem.js';

/** The context with the operation's own deadlines (`guestDeadlineMs`, `deviceDeletedMs`) applied. */
function withCallDeadlines(ctx: HotplugContext, op: SandboxOperation): HotplugContext {
  const guestMs = op.kind === 'hotplug' ? op.guestDeadlineMs : undefined;
  const deviceDeletedMs = op.kind === 'unplug' ? op.deviceDeletedMs : undefined;
  if (guestMs === undefined && deviceDeletedMs === undefined) return ctx;
  return {
    ...ctx,
    deadlines: {
      ...ctx.deadlines,
      ...(guestMs !== undefined ? { guestMs } : {}),
      ...(deviceDeletedMs !== undefined ? { deviceDeletedMs } : {}),
    },
  };
}

async function dispatch(ctx: HotplugContext, op: SandboxOperation): Promise<OperationResult> {
  switch (op.kind) {
    case 'hotplug':
      return hotplugDevice(ctx, op);
    case 'hotplug-memory':
      return hotplugAddMemory(ctx, op.mib, op.probe ?? false);
    case 'unplug':
      return unplugDevice(ctx, op.id);
    case 'resize-memory':
      return resizeMemory(ctx, op.mib, op.memoryBlockSizeMiB ?? 0, op.probe ?? false);
    case 'resize-vcpus':
      return resizeVCPUs(ctx, op.count, op.strict ?? false);
    case 'setup-virtio-mem':
      return { kind: 'setup-virtio-mem', ...(await setupVirtioMem(ctx)) };
    default:
      throw new HotplugNotSupportedError(`Operation \`${op.kind}\` is not a hot-plug operation`);
  }
}

/**
 * Runs one hot-plug/unplug/resize operation against a running sandbox, two-phase: `applied` is
 * reported once QEMU accepted, the promise resolves once the effect is real (the guest saw it,
 * or `DEVICE_DELETED` arrived), each with a deadline. Capacity is checked before any QMP. On
 * failure every earlier step is undone and it rejects with a {@link HotplugError}; a
 * {@link HotplugRolledBackError} when the undo was complete (then `rolled-back` is reported).
 * Aborting `ctx.signal` (STOP) pre-empts it the same way.
 *
 * @example
 * ```ts
 * const record = DeviceRecord.fromJSON(plan.record);
 * const ctx = { qmp, record, config, signal, emit: (phase) => console.log(phase) };
 * const r = await runOperation(ctx, { kind: 'hotplug', device: { kind: 'block', id: 'disk1', file: '/var/lib/disk1.img' } });
 * // r: { kind: 'hotplug', id: 'disk1', placement: { bus: 'pci-bridge-0', addr: '01', pciPath: '02/01', bridgeSlot: true }, confirmedBy: 'qemu' }
 * await runOperation(ctx, { kind: 'unplug', id: 'disk1' });
 * ```
 */
export async function runOperation(base: HotplugContext, op: SandboxOperation): Promise<OperationResult> {
  const ctx = withCallDeadlines(base, op);
  try {
    if (ctx.signal.aborted) {
      throw new HotplugAbortedError(
        'The operation was pre-empted before it started (the sandbox is stopping)',
        {
          cause: ctx.signal.reason,
        },
      );
    }
    if (ctx.record.devices.some((d) => d.pendingRemoval)) await settlePendingRemovals(ctx);
    assertCapacity(ctx.record, ctx.config, limitsOf(ctx), op);
    const result = await dispatch(ctx, op);
    ctx.emit('confirmed', result);
    return result;
  } catch (err) {
    const e = err instanceof HotplugError ? err : toHotplugError(err);
    ctx.logger?.warn({ err: e, op: op.kind }, 'hotplug operation failed');
    ctx.emit('failed', e);
    if (e instanceof HotplugRolledBackError) ctx.emit('rolled-back', e);
    throw e;
  }
}
