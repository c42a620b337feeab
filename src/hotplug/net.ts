// NIC hot-plug (the seeds' hotAddNetDevice/hotplugNetDevice): getfd (SCM_RIGHTS) → netdev_add → virtio-net.
import type { HotplugNetOperation } from '../../machines/operation.types.js';
import type { QmpDeviceAddArgs, QmpNetdevAddArgs } from '../qmp/commands.js';
import {
  assertNewId,
  cleanupQmp,
  deviceAddUndo,
  deviceDelAndWait,
  recordStuck,
  takeBridgeSlot,
} from './common.js';
import { deadlinesOf, type HotplugContext } from './context.js';
import type { DevicePlacement, RecordedNet } from './device-state.js';
import { HotplugInputError } from './errors.js';
import { waitUntil } from './guest-probe.js';
import { Steps } from './steps.js';
import type { ConfirmedBy, NetPlugResult, UnplugResult } from './types.js';

const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;

/** netdev id of a hot-plugged NIC. */
export function netdevId(id: string): string {
  return `net-${id}`;
}

function checkFds(name: string, fds: readonly number[] | undefined): void {
  if (fds === undefined) return;
  if (
    !Array.isArray(fds) ||
    fds.length === 0 ||
    fds.length > 16 ||
    !fds.every((f) => Number.isInteger(f) && f >= 0)
  ) {
    throw new HotplugInputError(
      `Expected \`${name}\` to be 1 to 16 open file descriptors, got \`${JSON.stringify(fds)}\``,
    );
  }
}

/** virtio-net device_add arguments (govmm's ExecuteNetPCIDeviceAdd / ExecuteNetCCWDeviceAdd). */
export function netDeviceArgs(
  op: HotplugNetOperation,
  ccw: boolean,
  where: DevicePlacement,
  queues: number,
): QmpDeviceAddArgs {
  const args: QmpDeviceAddArgs = {
    driver: ccw ? 'virtio-net-ccw' : 'virtio-net-pci',
    id: op.id,
    netdev: netdevId(op.id),
    ...(op.mac ? { mac: op.mac } : {}),
  };
  if (ccw) {
    if (where.devno) args.devno = where.devno;
  } else {
    if (where.bus) args.bus = where.bus;
    if (where.addr) args.addr = where.addr;
    args.romfile = '';
  }
  // 2N+2 vectors: N tx queues, N rx queues, one for config, one for a possible control vq.
  if (queues > 0) {
    args.mq = true;
    if (!ccw) args.vectors = 2 * queues + 2;
  }
  return args;
}

/**
 * Plugs a NIC: tap fds sent with SCM_RIGHTS (`getfd fd-<id>-<n>`, vhost fds `vhostfd-<id>-<n>`)
 * → netdev_add tap by fd names (or by `ifname`) → a bridge slot → device_add virtio-net-pci with
 * MAC, `mq=on`, `vectors=2N+2`. Failures undo the slot, the netdev and the named fds.
 */
export async function hotplugNet(ctx: HotplugContext, op: HotplugNetOperation): Promise<NetPlugResult> {
  assertNewId(ctx, op.id);
  checkFds('fds', op.fds);
  checkFds('vhostFds', op.vhostFds);
  if (op.fds === undefined && (typeof op.ifname !== 'string' || !IFNAME_RE.test(op.ifname))) {
    throw new HotplugInputError(
      `Expected \`fds\` (open tap fds) or \`ifname\` (1-15 of [A-Za-z0-9_.-]), got \`${String(op.ifname)}\``,
    );
  }
  if (op.mac !== undefined && !MAC_RE.test(op.mac)) {
    throw new HotplugInputError(`Expected \`mac\` to look like \`aa:bb:cc:dd:ee:ff\`, got \`${op.mac}\``);
  }
  if (op.vhostFds && op.fds && op.vhostFds.length !== op.fds.length) {
    throw new HotplugInputError(
      `Expected one vhost fd per tap fd, got ${op.vhostFds.length} for ${op.fds.length}`,
    );
  }
  const queues = op.queues ?? op.fds?.length ?? 1;
  if (!Number.isInteger(queues) || queues < 1) {
    throw new HotplugInputError(`Expected \`queues\` to be a positive integer, got \`${String(op.queues)}\``);
  }
  const ccw = ctx.config.hypervisorMachineType === 's390-ccw-virtio';
  const netdev = netdevId(op.id);
  const steps = new Steps(ctx);
  let rec: RecordedNet;
  try {
    const fdNames: string[] = [];
    for (const [i, fd] of (op.fds ?? []).entries()) {
      const fdname = `fd-${op.id}-${i}`;
      await steps.qmp(
        'getfd',
        'getfd',
        { fdname },
        { name: `closefd ${fdname}`, run: () => steps.undoQmp('closefd', { fdname }) },
        [fd],
      );
      fdNames.push(fdname);
    }
    const vhostNames: string[] = [];
    for (const [i, fd] of (op.vhostFds ?? []).entries()) {
      const fdname = `vhostfd-${op.id}-${i}`;
      await steps.qmp(
        'getfd',
        'getfd',
        { fdname },
        { name: `closefd ${fdname}`, run: () => steps.undoQmp('closefd', { fdname }) },
        [fd],
      );
      vhostNames.push(fdname);
    }
    const netdevArgs: QmpNetdevAddArgs =
      fdNames.length > 0
        ? {
            type: 'tap',
            id: netdev,
            fds: fdNames.join(':'),
            ...(vhostNames.length > 0 ? { vhost: true, vhostfds: vhostNames.join(':') } : {}),
          }
        : {
            type: 'tap',
            id: netdev,
            ifname: op.ifname as string,
            script: 'no',
            downscript: 'no',
            ...(queues > 1 ? { queues } : {}),
          };
    await steps.qmp('netdev_add', 'netdev_add', netdevArgs, {
      name: `netdev_del ${netdev}`,
      run: () => steps.undoQmp('netdev_del', { id: netdev }),
    });
    const where = takeBridgeSlot(ctx, steps, op.id, ccw ? 'ccw' : 'pci');
    const dev = netDeviceArgs(op, ccw, where, queues);
    const stuck: RecordedNet = {
      kind: 'net',
      id: op.id,
      netdevId: netdev,
      queues,
      ...(op.mac ? { mac: op.mac } : {}),
      ...where,
    };
    await steps.qmp(
      `device_add ${dev.driver}`,
      'device_add',
      dev,
      deviceAddUndo(ctx, op.id, (pending) => recordStuck(ctx, stuck, pending)),
    );
    rec = stuck;
    ctx.state.addDevice(rec);
  } catch (err) {
    return steps.fail(err);
  }
  ctx.emit('applied');
  let confirmedBy: ConfirmedBy = 'qemu';
  const guest = ctx.guest;
  if (guest && !ctx.paused && op.mac) {
    const mac = op.mac.toLowerCase();
    await waitUntil(
      `the guest seeing NIC \`${op.id}\` (${mac})`,
      (s) => guest.macs(s),
      (macs) => macs.includes(mac),
      {
        deadlineMs: deadlinesOf(ctx).guestMs,
        signal: ctx.signal,
        wake: ctx.guest?.changed?.bind(ctx.guest),
      },
    );
    confirmedBy = 'guest';
  }
  return {
    kind: 'hotplug-net',
    id: op.id,
    netdevId: netdev,
    ...(rec.pciPath ? { pciPath: rec.pciPath } : {}),
    ...(rec.devno ? { devno: rec.devno } : {}),
    ...(rec.mac ? { mac: rec.mac } : {}),
    confirmedBy,
  };
}

/** device_del → `DEVICE_DELETED` → netdev_del → slot release. */
export async function unplugNet(ctx: HotplugContext, rec: RecordedNet): Promise<UnplugResult> {
  const wait = await deviceDelAndWait(ctx, rec.id);
  if (!wait.deleted) return { kind: 'unplug', id: rec.id, removed: false, pending: true };
  try {
    await finishNetRemoval(ctx, rec);
  } catch (err) {
    // QEMU deleted the frontend but kept the backend busy a little longer: finish it later.
    ctx.state.markPendingRemoval(rec.id);
    throw err;
  }
  return { kind: 'unplug', id: rec.id, removed: true, pending: false };
}

/** After `DEVICE_DELETED`: netdev_del, slot release, record removed. */
export async function finishNetRemoval(ctx: HotplugContext, rec: RecordedNet): Promise<void> {
  await cleanupQmp(ctx, 'netdev_del', (timeoutMs) =>
    ctx.qmp.execute('netdev_del', { id: rec.netdevId }, { timeoutMs }),
  );
  ctx.state.releaseSlot(rec.id);
  ctx.state.removeDevice(rec.id);
}
