// vhost-user-blk hot-plug (the seeds' hotplugAddVhostUserBlkDevice): chardev-add + device_add on a bridge slot.
import type { HotplugVhostUserBlkOperation } from '../../machines/operation.types.js';
import {
  assertNewId,
  cleanupQmp,
  deviceAddUndo,
  deviceDelAndWait,
  recordStuck,
  takeBridgeSlot,
} from './common.js';
import type { HotplugContext } from './context.js';
import type { RecordedVhostUserBlk } from './device-state.js';
import { HotplugInputError } from './errors.js';
import { Steps } from './steps.js';
import type { UnplugResult, VhostUserBlkPlugResult } from './types.js';

/** Chardev id of a vhost-user device. */
export function vhostUserChardevId(id: string): string {
  return `char-${id}`;
}

/**
 * chardev-add (a client socket to the backend) → a bridge slot → device_add vhost-user-blk-pci;
 * failures undo the slot and the chardev.
 */
export async function hotplugVhostUserBlk(
  ctx: HotplugContext,
  op: HotplugVhostUserBlkOperation,
): Promise<VhostUserBlkPlugResult> {
  assertNewId(ctx, op.id);
  if (
    typeof op.socketPath !== 'string' ||
    !op.socketPath.startsWith('/') ||
    Buffer.byteLength(op.socketPath) > 107
  ) {
    throw new HotplugInputError(
      `Expected \`socketPath\` to be an absolute Unix socket path of at most 107 bytes, got \`${String(op.socketPath)}\``,
    );
  }
  const chardevId = vhostUserChardevId(op.id);
  const steps = new Steps(ctx);
  let rec: RecordedVhostUserBlk;
  try {
    // QEMU 7.2 refuses `wait` on a client socket, so (unlike govmm) it is left out.
    await steps.qmp(
      'chardev-add',
      'chardev-add',
      {
        id: chardevId,
        backend: {
          type: 'socket',
          data: { addr: { type: 'unix', data: { path: op.socketPath } }, server: false },
        },
      },
      { name: `chardev-remove ${chardevId}`, run: () => steps.undoQmp('chardev-remove', { id: chardevId }) },
    );
    const where = takeBridgeSlot(ctx, steps, op.id, 'pci');
    const stuck: RecordedVhostUserBlk = {
      kind: 'vhost-user-blk',
      id: op.id,
      chardevId,
      socketPath: op.socketPath,
      ...where,
    };
    await steps.qmp(
      'device_add vhost-user-blk-pci',
      'device_add',
      {
        driver: 'vhost-user-blk-pci',
        id: op.id,
        chardev: chardevId,
        ...(where.bus ? { bus: where.bus } : {}),
        ...(where.addr ? { addr: where.addr } : {}),
      },
      deviceAddUndo(ctx, op.id, (pending) => recordStuck(ctx, stuck, pending)),
    );
    rec = stuck;
    ctx.state.addDevice(rec);
  } catch (err) {
    return steps.fail(err);
  }
  ctx.emit('applied');
  return {
    kind: 'hotplug-vhost-user-blk',
    id: op.id,
    ...(rec.pciPath ? { pciPath: rec.pciPath } : {}),
    confirmedBy: 'qemu',
  };
}

/** device_del → `DEVICE_DELETED` → chardev-remove → slot release. */
export async function unplugVhostUserBlk(
  ctx: HotplugContext,
  rec: RecordedVhostUserBlk,
): Promise<UnplugResult> {
  const wait = await deviceDelAndWait(ctx, rec.id);
  if (!wait.deleted) return { kind: 'unplug', id: rec.id, removed: false, pending: true };
  try {
    await finishVhostUserBlkRemoval(ctx, rec);
  } catch (err) {
    // QEMU deleted the frontend but kept the backend busy a little longer: finish it later.
    ctx.state.markPendingRemoval(rec.id);
    throw err;
  }
  return { kind: 'unplug', id: rec.id, removed: true, pending: false };
}

/** After `DEVICE_DELETED`: chardev-remove, slot release, record removed. */
export async function finishVhostUserBlkRemoval(
  ctx: HotplugContext,
  rec: RecordedVhostUserBlk,
): Promise<void> {
  await cleanupQmp(ctx, 'chardev-remove', (timeoutMs) =>
    ctx.qmp.execute('chardev-remove', { id: rec.chardevId }, { timeoutMs }),
  );
  ctx.state.releaseSlot(rec.id);
  ctx.state.removeDevice(rec.id);
}
