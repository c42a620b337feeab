// Memory hot-plug (Kata's qemu.go `hotplugMemory`/`hotplugAddMemory`/`resizeMemory`): pc-dimm or virtio-mem.
import { dimmCapacity } from './capacity.js';
import { deviceAddUndo } from './common.js';
import { deadlinesOf, type HotplugContext, limitsOf } from './context.js';
import { HotplugCapacityError, HotplugInputError } from './errors.js';
import { waitUntil } from './guest-probe.js';
import { dimmTotalMiB, memoryBackendArgs, memoryBackendFor } from './memory-backend.js';
import { calcHotplugMemMiBSize } from './memory-size.js';
import { Steps } from './steps.js';
import type { ConfirmedBy, MemoryPlugResult, ResizeMemoryResult } from './types.js';
import { resizeVirtioMem } from './virtio-mem.js';

async function confirmMemory(
  ctx: HotplugContext,
  before: number | undefined,
  growMiB: number,
): Promise<ConfirmedBy> {
  const guest = ctx.guest;
  if (!guest || ctx.paused || before === undefined || growMiB <= 0) return 'qemu';
  // MemTotal grows by the new memory minus the kernel's struct-page overhead (~1.6%): half is plenty.
  await waitUntil(
    `the guest's memory growing by ${growMiB} MiB`,
    (s) => guest.memTotalMiB(s),
    (m) => m >= before + growMiB / 2,
    {
      deadlineMs: deadlinesOf(ctx).guestMs,
      signal: ctx.signal,
      wake: ctx.guest?.changed?.bind(ctx.guest),
    },
  );
  return 'guest';
}

/**
 * Hot-adds a pc-dimm of `mib` MiB: the next slot from query-memory-devices, a backend
 * (`mem<slot>`, ram or file, shared when configured), device_add pc-dimm `dimmmem<slot>`; with
 * `probe` its guest-physical address. Refused before any QMP beyond slots/maxmem/host memory.
 */
export async function hotplugAddMemory(
  ctx: HotplugContext,
  mib: number,
  probe = false,
): Promise<MemoryPlugResult> {
  if (!Number.isInteger(mib) || mib < 0) {
    throw new HotplugInputError(`Expected \`mib\` to be a non-negative integer, got \`${String(mib)}\``);
  }
  const limits = limitsOf(ctx);
  const v = dimmCapacity(ctx.record, limits, mib);
  if (!v.ok) throw new HotplugCapacityError(v.resource, v.message);
  const choice = memoryBackendFor(ctx.config);
  const before = ctx.guest && !ctx.paused ? await ctx.guest.memTotalMiB(ctx.signal) : undefined;
  const steps = new Steps(ctx);
  let slot = 0;
  let addr: number | undefined;
  const { commandMs } = deadlinesOf(ctx);
  try {
    const devices = await steps.qmp('query-memory-devices', 'query-memory-devices', undefined);
    let maxSlot = -1;
    for (const d of devices)
      if (typeof d.data.slot === 'number' && d.data.slot > maxSlot) maxSlot = d.data.slot;
    slot = maxSlot + 1;
    const backendId = `mem${slot}`;
    const id = `dimm${backendId}`;
    await steps.qmp('object-add memory backend', 'object-add', memoryBackendArgs(choice, backendId, mib), {
      name: `object-del ${backendId}`,
      run: () => steps.undoQmp('object-del', { id: backendId }),
    });
    await steps.qmp(
      'device_add pc-dimm',
      'device_add',
      { driver: 'pc-dimm', id, memdev: backendId },
      // QEMU cannot take a DIMM back without the guest: if it got added after all, it is recorded.
      deviceAddUndo(ctx, id, () => ctx.record.addDimm({ id, backendId, slot, sizeMiB: mib }), false),
    );
    if (probe) {
      const after = await ctx.qmp.execute('query-memory-devices', undefined, { timeoutMs: commandMs });
      const mine = after.find((d) => d.data.id === id);
      addr = typeof mine?.data.addr === 'number' ? mine.data.addr : undefined;
    }
    ctx.record.addDimm({ id, backendId, slot, sizeMiB: mib, ...(addr !== undefined ? { addr } : {}) });
    ctx.emit('applied');
    const confirmedBy = await confirmMemory(ctx, before, mib);
    return {
      kind: 'hotplug-memory',
      id,
      slot,
      sizeMiB: mib,
      ...(addr !== undefined ? { addr } : {}),
      confirmedBy,
    };
  } catch (err) {
    if (ctx.record.dimms.some((d) => d.slot === slot && d.id === `dimmmem${slot}`)) throw err; // phase two failed: the DIMM stays
    return steps.fail(err);
  }
}

/**
 * Kata's qemu.go `resizeMemory`: towards `reqMiB` total. virtio-mem: `requested-size` = req − boot.
 * DIMMs: grow by a pc-dimm aligned to `memoryBlockSizeMiB` (calcHotplugMemMiBSize); shrinking is
 * "not supported" (a warning; the memory stays). Returns the memory before and after.
 */
export async function resizeMemory(
  ctx: HotplugContext,
  reqMiB: number,
  memoryBlockSizeMiB = 0,
  probe = false,
): Promise<ResizeMemoryResult> {
  if (!Number.isInteger(reqMiB) || reqMiB < 1) {
    throw new HotplugInputError(`Expected \`mib\` to be a positive integer, got \`${String(reqMiB)}\``);
  }
  const limits = limitsOf(ctx);
  const previousMiB = limits.bootMemoryMiB + ctx.record.hotpluggedMemoryMiB;
  if (ctx.record.virtioMem && previousMiB !== reqMiB) {
    // virtio-mem covers what boot memory and DIMMs do not.
    const r = await resizeVirtioMem(ctx, reqMiB - limits.bootMemoryMiB - dimmTotalMiB(ctx));
    return {
      kind: 'resize-memory',
      previousMiB,
      currentMiB: reqMiB,
      via: 'virtio-mem',
      confirmedBy: r.confirmedBy,
    };
  }
  if (previousMiB < reqMiB) {
    const add = calcHotplugMemMiBSize(reqMiB - previousMiB, memoryBlockSizeMiB);
    const d = await hotplugAddMemory(ctx, add, probe);
    return {
      kind: 'resize-memory',
      previousMiB,
      currentMiB: previousMiB + d.sizeMiB,
      device: {
        id: d.id,
        slot: d.slot,
        sizeMiB: d.sizeMiB,
        ...(d.addr !== undefined ? { addr: d.addr } : {}),
      },
      via: 'pc-dimm',
      confirmedBy: d.confirmedBy,
    };
  }
  if (previousMiB > reqMiB) {
    ctx.logger?.warn({ requestedMiB: reqMiB, currentMiB: previousMiB }, 'hot-remove VM memory not supported');
    return {
      kind: 'resize-memory',
      previousMiB,
      currentMiB: previousMiB,
      via: 'none',
      notSupported: true,
      confirmedBy: 'qemu',
    };
  }
  return { kind: 'resize-memory', previousMiB, currentMiB: previousMiB, via: 'none', confirmedBy: 'qemu' };
}
