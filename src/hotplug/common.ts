// Helpers shared by the device families: new ids, bridge slots with undo, device_del → DEVICE_DELETED.

import type { BridgeType } from '../devices/bridges.js';
import { BridgeDeviceError, BridgeFullError, NoBridgeError } from '../devices/errors.js';
import type { DeviceEntry, Placement } from '../devices/record-types.js';
import { QmpCommandError, QmpTimeoutError } from '../qmp/errors.js';
import { deadlinesOf, type HotplugContext } from './context.js';
import {
  DuplicateDeviceError,
  HotplugCapacityError,
  HotplugCleanupError,
  HotplugRefusedError,
  HotplugTimeoutError,
} from './errors.js';
import { ABSENT, RollbackDeferred, type Steps } from './steps.js';

/** Refuses an id the sandbox already uses (cold or hot device, backend, vCPU, DIMM); before any QMP. */
export function assertNewId(ctx: HotplugContext, id: string): void {
  if (ctx.record.hasId(id)) throw new DuplicateDeviceError(id);
}

/** Takes a bridge slot for `id` and registers its release as an undo step. */
export function takeBridgeSlot(
  ctx: HotplugContext,
  steps: Steps,
  id: string,
  transport: 'pci' | 'ccw',
): Placement {
  const type: BridgeType | undefined = ctx.record.bridgeTypeFor(transport);
  try {
    if (type === undefined)
      throw new NoBridgeError(`Expected a ${transport} bridge to plug \`${id}\` into, but there is none`);
    const slot = ctx.record.takeSlot(id, type);
    steps.onUndo(`release slot of ${id}`, () => ctx.record.releaseSlot(id));
    return transport === 'ccw'
      ? { ...(slot.devno ? { devno: slot.devno } : {}), bridgeSlot: true }
      : {
          bus: slot.bridge.id,
          addr: slot.addr,
          ...(slot.pciPath ? { pciPath: slot.pciPath } : {}),
          bridgeSlot: true,
        };
  } catch (err) {
    if (err instanceof NoBridgeError || err instanceof BridgeFullError) {
      throw new HotplugCapacityError('bridge-slots', err.message);
    }
    if (err instanceof BridgeDeviceError) throw new DuplicateDeviceError(id);
    throw err;
  }
}

/** Result of waiting for an unplug. */
export type UnplugWait = { readonly deleted: true } | { readonly deleted: false; readonly pending: true };

/**
 * device_del and phase two: the `DEVICE_DELETED` event for `id` (listener set up before the
 * command). While the VM is paused the guest cannot acknowledge, so the removal is left pending
 * (finished by a later operation, see `settlePendingRemovals`). A device QEMU no longer has counts
 * as deleted. A deadline expiry marks the device pending and throws {@link HotplugTimeoutError}.
 */
export async function deviceDelAndWait(
  ctx: HotplugContext,
  id: string,
  waitIfPaused = false,
): Promise<UnplugWait> {
  const { commandMs, deviceDeletedMs } = deadlinesOf(ctx);
  if (ctx.paused && !waitIfPaused) {
    try {
      await ctx.qmp.execute('device_del', { id }, { timeoutMs: commandMs, signal: ctx.signal });
    } catch (err) {
      if (err instanceof QmpCommandError && err.qmpClass === 'DeviceNotFound') return { deleted: true };
      throw refusal('device_del', err);
    }
    // Some buses unplug without the guest (SCSI): then the device is already gone.
    if (!(await peripheralIds(ctx)).has(id)) return { deleted: true };
    ctx.record.markPendingRemoval(id);
    return { deleted: false, pending: true };
  }
  try {
    await ctx.qmp.executeAndWaitFor(
      'device_del',
      { id },
      (e) => e.event === 'DEVICE_DELETED' && e.data.device === id,
      { timeoutMs: deviceDeletedMs, signal: ctx.signal },
    );
    return { deleted: true };
  } catch (err) {
    if (err instanceof QmpCommandError && err.qmpClass === 'DeviceNotFound') return { deleted: true };
    if (err instanceof QmpTimeoutError) {
      ctx.record.markPendingRemoval(id);
      throw new HotplugTimeoutError(`DEVICE_DELETED for \`${id}\``, deviceDeletedMs, { cause: err });
    }
    if (err instanceof QmpCommandError && /already in the process of unplug/i.test(err.desc)) {
      ctx.record.markPendingRemoval(id);
      return { deleted: false, pending: true };
    }
    throw refusal('device_del', err);
  }
}

function refusal(step: string, err: unknown): unknown {
  return err instanceof QmpCommandError ? new HotplugRefusedError(step, err.desc, { cause: err }) : err;
}

function cleanupFailure(step: string, err: unknown): unknown {
  return err instanceof QmpCommandError ? new HotplugCleanupError(step, err.desc, { cause: err }) : err;
}

/**
 * A backend QEMU still holds right after `DEVICE_DELETED`: QEMU 7.2's qdev drops a deleted
 * device's last reference in an RCU callback (`bus_remove_child` → `call_rcu`), and only then does
 * the frontend let go of its BlockBackend / chardev / object. No event says when.
 */
const BUSY = /is in use|is busy/i;
/**
 * First and longest backoff between tries at a busy backend (the command deadline bounds them
 * all). Short: the RCU callback usually lets go within ms, and a long step overshoots the release
 * by up to itself on every unplug (each try is one QMP round trip, < 1 ms).
 */
const BUSY_BACKOFF_MS = { first: 1, max: 20 } as const;

/**
 * A QMP command after phase one (backend removal): deadline, no abort (cleanup must finish). A
 * backend that is still busy (see {@link BUSY}) is tried again with backoff until the deadline.
 */
export async function cleanupQmp(
  ctx: HotplugContext,
  step: string,
  run: (timeoutMs: number) => Promise<unknown>,
): Promise<void> {
  const deadline = Date.now() + deadlinesOf(ctx).commandMs;
  for (let backoff: number = BUSY_BACKOFF_MS.first; ; backoff = Math.min(backoff * 2, BUSY_BACKOFF_MS.max)) {
    try {
      await run(Math.max(1, deadline - Date.now()));
      return;
    } catch (err) {
      if (err instanceof QmpCommandError && ABSENT.test(err.desc)) return;
      const busy = err instanceof QmpCommandError && BUSY.test(err.desc);
      if (!busy || Date.now() + backoff >= deadline) throw cleanupFailure(step, err);
      ctx.logger?.debug(
        { step, backoff, desc: err.desc },
        'backend still held after DEVICE_DELETED; trying again',
      );
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  }
}

/** Ids QEMU has under `/machine/peripheral` (user-created devices), from `qom-list`. */
export async function peripheralIds(ctx: HotplugContext): Promise<Set<string>> {
  const list = await ctx.qmp.execute(
    'qom-list',
    { path: '/machine/peripheral' },
    { timeoutMs: deadlinesOf(ctx).commandMs, signal: ctx.signal },
  );
  return new Set(list.filter((p) => p.type.startsWith('child<')).map((p) => p.name));
}

/**
 * The undo action of a device_add whose outcome may be unknown (aborted or timed out while QEMU
 * may have done it): if QEMU has the device, device_del and wait for `DEVICE_DELETED`; if it
 * cannot go now (paused guest, deadline, or `removable: false` like nvdimm and pc-dimm), `record`
 * puts it into the state (pending removal when removable) and the rollback stops there.
 */
export function deviceAddUndo(
  ctx: HotplugContext,
  id: string,
  record: (pendingRemoval: boolean) => void,
  removable = true,
): { name: string; run: () => Promise<void> } {
  return {
    name: `remove device ${id}`,
    run: async () => {
      const { commandMs, deviceDeletedMs } = deadlinesOf(ctx);
      const list = await ctx.qmp.execute(
        'qom-list',
        { path: '/machine/peripheral' },
        { timeoutMs: commandMs },
      );
      if (!list.some((p) => p.name === id)) return; // QEMU never made it: nothing to undo here
      if (removable && !ctx.paused) {
        try {
          await ctx.qmp.executeAndWaitFor(
            'device_del',
            { id },
            (e) => e.event === 'DEVICE_DELETED' && e.data.device === id,
            { timeoutMs: deviceDeletedMs },
          );
          return;
        } catch (err) {
          if (err instanceof QmpCommandError && err.qmpClass === 'DeviceNotFound') return;
          if (!(err instanceof QmpTimeoutError)) throw err;
        }
      } else if (removable) {
        await ctx.qmp.execute('device_del', { id }, { timeoutMs: commandMs }).catch(() => undefined);
      }
      record(removable);
      throw new RollbackDeferred(id);
    },
  };
}

/** Records `device`, marked pending removal when asked (for {@link deviceAddUndo}). */
export function recordStuck(ctx: HotplugContext, device: DeviceEntry, pending: boolean): void {
  ctx.record.addDevice(pending ? { ...device, pendingRemoval: true } : device);
}
