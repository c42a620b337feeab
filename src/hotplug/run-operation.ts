// runOperation: capacity guard, dispatch to the device family, phase reports, typed failures.
import type { SandboxOperation } from '../../machines/operation.types.js';
import { finishBlockRemoval, hotplugBlock, unplugBlock } from './block.js';
import { assertCapacity } from './capacity.js';
import { peripheralIds } from './common.js';
import { type HotplugContext, limitsOf } from './context.js';
import { resizeVCPUs } from './cpu.js';
import {
  HotplugAbortedError,
  HotplugError,
  HotplugInputError,
  HotplugNotSupportedError,
  UnknownDeviceError,
} from './errors.js';
import { hotplugAddMemory, resizeMemory } from './memory.js';
import { finishNetRemoval, hotplugNet, unplugNet } from './net.js';
import { toHotplugError } from './steps.js';
import type { OperationResult, UnplugResult } from './types.js';
import { finishVfioRemoval, hotplugVfio, unplugVfio } from './vfio.js';
import { finishVhostUserBlkRemoval, hotplugVhostUserBlk, unplugVhostUserBlk } from './vhost-user-blk.js';
import { setupVirtioMem } from './virtio-mem.js';

/**
 * Finishes removals whose `DEVICE_DELETED` came while nobody waited (the VM was paused, or the
 * deadline passed): devices QEMU no longer has get their backend removed and slot released.
 * Runs at the start of every operation; one `qom-list`, only when something is pending.
 */
export async function settlePendingRemovals(ctx: HotplugContext): Promise<string[]> {
  const pending = ctx.state.devices.filter((d) => d.pendingRemoval);
  if (pending.length === 0) return [];
  const present = await peripheralIds(ctx);
  const settled: string[] = [];
  for (const d of pending) {
    if (present.has(d.id)) continue;
    try {
      switch (d.kind) {
        case 'block':
          await finishBlockRemoval(ctx, d);
          break;
        case 'vhost-user-blk':
          await finishVhostUserBlkRemoval(ctx, d);
          break;
        case 'net':
          await finishNetRemoval(ctx, d);
          break;
        case 'vfio':
          finishVfioRemoval(ctx, d);
          break;
      }
    } catch (err) {
      // Still busy in QEMU (e.g. the block node): stays pending, retried by the next operation.
      ctx.logger?.warn({ err, deviceId: d.id }, 'finishing a pending removal failed; retrying later');
      continue;
    }
    settled.push(d.id);
  }
  return settled;
}

async function unplug(ctx: HotplugContext, id: string): Promise<UnplugResult> {
  const rec = ctx.state.device(id);
  if (!rec) {
    if (ctx.state.dimms.some((d) => d.id === id)) {
      ctx.logger?.warn({ id }, 'hot-remove VM memory not supported');
      throw new HotplugNotSupportedError(`hot-remove VM memory not supported (\`${id}\`)`);
    }
    throw new UnknownDeviceError(id);
  }
  if (rec.pendingRemoval) {
    throw new HotplugInputError(`Expected \`${id}\` to be plugged, but its removal is already pending`);
  }
  switch (rec.kind) {
    case 'block':
      return unplugBlock(ctx, rec);
    case 'vhost-user-blk':
      return unplugVhostUserBlk(ctx, rec);
    case 'net':
      return unplugNet(ctx, rec);
    case 'vfio':
      return unplugVfio(ctx, rec);
  }
}

async function dispatch(ctx: HotplugContext, op: SandboxOperation): Promise<OperationResult> {
  switch (op.kind) {
    case 'hotplug-block':
      return hotplugBlock(ctx, op);
    case 'hotplug-vhost-user-blk':
      return hotplugVhostUserBlk(ctx, op);
    case 'hotplug-net':
      return hotplugNet(ctx, op);
    case 'hotplug-vfio':
      return hotplugVfio(ctx, op);
    case 'hotplug-memory':
      return hotplugAddMemory(ctx, op.mib, op.probe ?? false);
    case 'unplug':
      return unplug(ctx, op.id);
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
 * failure every earlier step is undone and it rejects with a {@link HotplugError} whose
 * `rolledBack` says so (the sandbox machine then emits `failed` and `rolled-back`). Aborting
 * `ctx.signal` (STOP) pre-empts it the same way.
 *
 * @example
 * ```ts
 * const state = DeviceState.create({ bridges: plan.bridges });
 * const ctx = { qmp, state, config, signal, emit: (phase) => console.log(phase) };
 * const r = await runOperation(ctx, { kind: 'hotplug-block', id: 'disk1', file: '/var/lib/disk1.img' });
 * // r: { kind: 'hotplug-block', id: 'disk1', driver: 'virtio-blk', pciPath: '02/01', confirmedBy: 'qemu' }
 * await runOperation(ctx, { kind: 'unplug', id: 'disk1' });
 * ```
 */
export async function runOperation(ctx: HotplugContext, op: SandboxOperation): Promise<OperationResult> {
  try {
    if (ctx.signal.aborted) {
      throw new HotplugAbortedError(
        'The operation was pre-empted before it started (the sandbox is stopping)',
        {
          cause: ctx.signal.reason,
        },
      );
    }
    if (ctx.state.devices.some((d) => d.pendingRemoval)) await settlePendingRemovals(ctx);
    assertCapacity(ctx.state, ctx.config, limitsOf(ctx), op);
    const result = await dispatch(ctx, op);
    ctx.emit('confirmed', result);
    return result;
  } catch (err) {
    const e = err instanceof HotplugError ? err : toHotplugError(err, false);
    ctx.logger?.warn({ err: e, op: op.kind }, 'hotplug operation failed');
    ctx.emit('failed', e);
    if (e.rolledBack) ctx.emit('rolled-back', e);
    throw e;
  }
}
