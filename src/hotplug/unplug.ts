// Unplug of any recorded device, cold- or hot-plugged (Kata's qemu.go `hotplugRemoveDevice`):
// device_del → DEVICE_DELETED → the backends the record lists → slot and root port release.
import type { DeviceEntry } from '../devices/record-types.js';
import { cleanupQmp, deviceDelAndWait, peripheralIds } from './common.js';
import type { HotplugContext } from './context.js';
import { HotplugInputError, HotplugNotSupportedError, UnknownDeviceError } from './errors.js';
import type { UnplugResult } from './types.js';

/** Whether QEMU can unplug this device (nvdimms cannot be hot-unplugged). */
function unpluggable(entry: DeviceEntry): boolean {
  return !(entry.spec.kind === 'block' && (entry.spec.driver === 'nvdimm' || entry.spec.pmem === true));
}

/**
 * After `DEVICE_DELETED`: blockdev-del / netdev_del / chardev-remove / object-del / closefd for
 * what the entry's `backends` name, then its slot and root port are released and it is forgotten.
 * A backend that does not exist (a cold disk QEMU auto-deleted with its device) counts as removed.
 */
export async function finishRemoval(ctx: HotplugContext, entry: DeviceEntry): Promise<void> {
  const b = entry.backends;
  if (b.node) {
    const node = b.node;
    await cleanupQmp(ctx, 'blockdev-del', (timeoutMs) =>
      ctx.qmp.execute('blockdev-del', { 'node-name': node }, { timeoutMs }),
    );
  }
  if (b.netdev) {
    const id = b.netdev;
    await cleanupQmp(ctx, 'netdev_del', (timeoutMs) => ctx.qmp.execute('netdev_del', { id }, { timeoutMs }));
  }
  if (b.chardev) {
    const id = b.chardev;
    await cleanupQmp(ctx, 'chardev-remove', (timeoutMs) =>
      ctx.qmp.execute('chardev-remove', { id }, { timeoutMs }),
    );
  }
  for (const id of b.objects ?? []) {
    await cleanupQmp(ctx, 'object-del', (timeoutMs) => ctx.qmp.execute('object-del', { id }, { timeoutMs }));
  }
  // QEMU closes monitor fds a netdev took when the netdev goes; a name still held is closed here.
  for (const fdname of b.fdNames ?? []) {
    await cleanupQmp(ctx, 'closefd', (timeoutMs) => ctx.qmp.execute('closefd', { fdname }, { timeoutMs }));
  }
  ctx.record.releaseSlot(entry.id);
  ctx.record.releaseRootPort(entry.id);
  ctx.record.removeDevice(entry.id);
}

/**
 * Removes device `id` (cold- or hot-plugged). While paused, `device_del` is accepted and the
 * removal stays pending (`pending: true`) until QEMU deletes it; `settlePendingRemovals` finishes it.
 */
export async function unplugDevice(ctx: HotplugContext, id: string): Promise<UnplugResult> {
  const entry = ctx.record.device(id);
  if (!entry) {
    if (ctx.record.dimms.some((d) => d.id === id)) {
      ctx.logger?.warn({ id }, 'hot-remove VM memory not supported');
      throw new HotplugNotSupportedError(`hot-remove VM memory not supported (\`${id}\`)`);
    }
    throw new UnknownDeviceError(id);
  }
  if (entry.pendingRemoval) {
    throw new HotplugInputError(`Expected \`${id}\` to be plugged, but its removal is already pending`);
  }
  if (!unpluggable(entry)) {
    throw new HotplugNotSupportedError(`QEMU cannot hot-unplug nvdimm devices (\`${id}\`)`);
  }
  const wait = await deviceDelAndWait(ctx, id);
  if (!wait.deleted) return { kind: 'unplug', id, removed: false, pending: true };
  try {
    await finishRemoval(ctx, entry);
  } catch (err) {
    // QEMU deleted the frontend but kept a backend busy a little longer: finish it later.
    ctx.record.markPendingRemoval(id);
    throw err;
  }
  return { kind: 'unplug', id, removed: true, pending: false };
}

/**
 * Finishes removals whose `DEVICE_DELETED` came while nobody waited (the VM was paused, or the
 * deadline passed): devices QEMU no longer has get their backends removed and slot released.
 * Runs at the start of every operation; one `qom-list`, only when something is pending.
 */
export async function settlePendingRemovals(ctx: HotplugContext): Promise<string[]> {
  const pending = ctx.record.devices.filter((d) => d.pendingRemoval);
  if (pending.length === 0) return [];
  const present = await peripheralIds(ctx);
  const settled: string[] = [];
  for (const d of pending) {
    if (present.has(d.id)) continue;
    try {
      await finishRemoval(ctx, d);
    } catch (err) {
      // Still busy in QEMU (e.g. the block node): stays pending, retried by the next operation.
      ctx.logger?.warn({ err, deviceId: d.id }, 'finishing a pending removal failed; retrying later');
      continue;
    }
    settled.push(d.id);
  }
  return settled;
}
