// virtio-mem (Kata's qemu.go `setupVirtioMem` and `resizeMemory`'s qom-set requested-size).

import type { Placement } from '../devices/record-types.js';
import { formatOptions } from '../qemu/escape.js';
import { QmpTimeoutError } from '../qmp/errors.js';
import { takeBridgeSlot } from './common.js';
import { deadlinesOf, type HotplugConfig, type HotplugContext, limitsOf } from './context.js';
import { HotplugCapacityError, HotplugInputError, HotplugTimeoutError } from './errors.js';
import { waitUntil } from './guest-probe.js';
import { dimmTotalMiB, memoryBackendArgs, memoryBackendFor } from './memory-backend.js';
import { Steps } from './steps.js';
import type { ConfirmedBy } from './types.js';

/** The virtio-mem device id (Kata's `virtiomem0`). */
export const VIRTIO_MEM_ID = 'virtiomem0';
/** Its memory backend id (Kata's `virtiomem`). */
export const VIRTIO_MEM_BACKEND_ID = 'virtiomem';
/** virtio-mem's block size on x86 (THP size): region sizes are multiples of it. */
export const VIRTIO_MEM_BLOCK_MIB = 2;

/**
 * Size of the virtio-mem region: Kata's qemu.go `setupVirtioMem` uses host memory − boot memory; it is also capped to
 * what maxmem leaves, and rounded down to the 2 MiB block size.
 *
 * @example
 * virtioMemRegionMiB(8192, 512, 2048) // => 1536
 */
export function virtioMemRegionMiB(hostMemMiB: number, bootMemoryMiB: number, maxMemMiB: number): number {
  const want = Math.min(hostMemMiB, maxMemMiB) - bootMemoryMiB;
  return Math.max(0, Math.floor(want / VIRTIO_MEM_BLOCK_MIB) * VIRTIO_MEM_BLOCK_MIB);
}

/**
 * The cold-plug alternative to {@link setupVirtioMem}: argv for the plan (`-object` backend and
 * `-device virtio-mem-pci,...,requested-size=0` on a bridge slot), for QEMU's own command line.
 *
 * @example
 * virtioMemArgv(config, { regionMiB: 1536, bus: 'pci-bridge-0', addr: '1e' })
 * // => ['-object', 'memory-backend-ram,id=virtiomem,size=1536M',
 * //     '-device', 'virtio-mem-pci,id=virtiomem0,memdev=virtiomem,requested-size=0,bus=pci-bridge-0,addr=1e']
 */
export function virtioMemArgv(
  config: Pick<HotplugConfig, 'hugePages' | 'enableVhostUserStore' | 'sharedFS' | 'fileBackedMemRootDir'>,
  where: { readonly regionMiB: number; readonly bus?: string; readonly addr?: string },
): string[] {
  const b = memoryBackendFor(config);
  return [
    '-object',
    formatOptions([
      b.qomType,
      ['id', VIRTIO_MEM_BACKEND_ID],
      ['size', `${where.regionMiB}M`],
      ...(b.memPath ? [['mem-path', b.memPath] as const] : []),
      ...(b.share ? [['share', true] as const] : []),
    ]),
    '-device',
    formatOptions([
      'virtio-mem-pci',
      ['id', VIRTIO_MEM_ID],
      ['memdev', VIRTIO_MEM_BACKEND_ID],
      ['requested-size', 0],
      ...(where.bus ? [['bus', where.bus] as const] : []),
      ...(where.addr ? [['addr', where.addr] as const] : []),
    ]),
  ];
}

/** Records a virtio-mem device that was cold-plugged with {@link virtioMemArgv}. */
export function adoptVirtioMem(
  ctx: Pick<HotplugContext, 'record'>,
  regionMiB: number,
  placement: Placement = {},
): void {
  ctx.record.setVirtioMem({
    id: VIRTIO_MEM_ID,
    backendId: VIRTIO_MEM_BACKEND_ID,
    regionMiB,
    requestedMiB: 0,
    placement,
  });
}

/**
 * Kata's qemu.go `setupVirtioMem` over QMP at start: a backend of (host − boot) MiB (capped by maxmem)
 * and `virtio-mem-pci` with `requested-size=0` on a bridge slot; undone on failure. Call it after
 * QEMU is up (ideally before `cont`) when `config.virtioMem` is on.
 */
export async function setupVirtioMem(
  ctx: HotplugContext,
): Promise<{ regionMiB: number; placement: Placement }> {
  if (ctx.record.virtioMem)
    throw new HotplugInputError('Expected virtio-mem to be set up once, but it already is');
  const limits = limitsOf(ctx);
  const regionMiB = virtioMemRegionMiB(limits.hostMemMiB, limits.bootMemoryMiB, limits.maxMemMiB);
  if (regionMiB <= 0) {
    throw new HotplugCapacityError(
      'virtio-mem',
      `Expected room for virtio-mem below maxmem ${limits.maxMemMiB} MiB, but there is none`,
    );
  }
  const choice = memoryBackendFor(ctx.config);
  const steps = new Steps(ctx);
  try {
    await steps.qmp(
      'object-add virtio-mem backend',
      'object-add',
      memoryBackendArgs(choice, VIRTIO_MEM_BACKEND_ID, regionMiB),
      {
        name: `object-del ${VIRTIO_MEM_BACKEND_ID}`,
        run: () => steps.undoQmp('object-del', { id: VIRTIO_MEM_BACKEND_ID }),
      },
    );
    const where: Placement = ctx.record.bridgeTypeFor('pci')
      ? takeBridgeSlot(ctx, steps, VIRTIO_MEM_ID, 'pci')
      : {};
    await steps.qmp(
      'device_add virtio-mem-pci',
      'device_add',
      {
        driver: 'virtio-mem-pci',
        id: VIRTIO_MEM_ID,
        memdev: VIRTIO_MEM_BACKEND_ID,
        'requested-size': 0,
        ...(where.bus ? { bus: where.bus } : {}),
        ...(where.addr ? { addr: where.addr } : {}),
      },
      { name: `device_del ${VIRTIO_MEM_ID}`, run: () => steps.undoQmp('device_del', { id: VIRTIO_MEM_ID }) },
    );
    const placement: Placement = { ...where };
    ctx.record.setVirtioMem({
      id: VIRTIO_MEM_ID,
      backendId: VIRTIO_MEM_BACKEND_ID,
      regionMiB,
      requestedMiB: 0,
      placement,
    });
    ctx.logger?.info(`Setup ${regionMiB}MB virtio-mem-pci success`);
    return { regionMiB, placement };
  } catch (err) {
    return steps.fail(err);
  }
}

/**
 * qom-set `requested-size` to `mib` MiB. With a running guest, phase two is QEMU's
 * `MEMORY_DEVICE_SIZE_CHANGE` event reaching the requested size (the guest driver plugged the
 * blocks), then the guest's MemTotal; without a guest (or paused) QEMU accepting is all there is.
 */
export async function resizeVirtioMem(
  ctx: HotplugContext,
  mib: number,
): Promise<{ confirmedBy: ConfirmedBy }> {
  const vm = ctx.record.virtioMem;
  if (!vm) throw new HotplugInputError('Expected virtio-mem to be set up before resizing it');
  if (!Number.isInteger(mib) || mib < 0 || mib > vm.regionMiB || mib % VIRTIO_MEM_BLOCK_MIB !== 0) {
    throw new HotplugCapacityError(
      'virtio-mem',
      `Expected a virtio-mem size between 0 and ${vm.regionMiB} MiB in ${VIRTIO_MEM_BLOCK_MIB} MiB blocks, got \`${String(mib)}\``,
    );
  }
  const bytes = mib * 1024 * 1024;
  const { commandMs, guestMs } = deadlinesOf(ctx);
  const steps = new Steps(ctx);
  const live = ctx.guest !== undefined && !ctx.paused;
  const before = live && ctx.guest ? await ctx.guest.memTotalMiB(ctx.signal) : undefined;
  const args = { path: vm.id, property: 'requested-size', value: bytes };
  try {
    if (live && bytes !== vm.requestedMiB * 1024 * 1024) {
      await ctx.qmp.executeAndWaitFor(
        'qom-set',
        args,
        (e) => e.event === 'MEMORY_DEVICE_SIZE_CHANGE' && e.data.id === vm.id && e.data.size === bytes,
        { timeoutMs: guestMs, signal: ctx.signal },
      );
    } else {
      await steps.qmp('qom-set requested-size', 'qom-set', args);
    }
  } catch (err) {
    if (err instanceof QmpTimeoutError) {
      // QEMU took the request; the guest did not finish (un)plugging in time.
      ctx.record.setVirtioMem({ ...vm, requestedMiB: mib });
      ctx.record.setHotpluggedMemoryMiB(dimmTotalMiB(ctx) + mib);
      throw new HotplugTimeoutError(`virtio-mem reaching ${mib} MiB`, guestMs, { cause: err });
    }
    return steps.fail(err);
  }
  ctx.record.setVirtioMem({ ...vm, requestedMiB: mib });
  ctx.record.setHotpluggedMemoryMiB(dimmTotalMiB(ctx) + mib);
  ctx.emit('applied');
  void commandMs;
  const guest = ctx.guest;
  if (!live || !guest || before === undefined) return { confirmedBy: 'qemu' };
  const target = before + (mib - vm.requestedMiB) / 2;
  await waitUntil(
    `the guest's memory reaching ${mib} MiB of virtio-mem`,
    (s) => guest.memTotalMiB(s),
    (m) => (mib >= vm.requestedMiB ? m >= target : m <= target),
    { deadlineMs: guestMs, signal: ctx.signal, wake: ctx.guest?.changed?.bind(ctx.guest) },
  );
  return { confirmedBy: 'guest' };
}
