// vCPU hot-plug (Kata's qemu.go `hotplugAddCPUs`/`hotplugRemoveCPUs`/`resizeVCPUs`) via query-hotpluggable-cpus.
import type { QmpDeviceAddArgs, QmpHotpluggableCpu } from '../qmp/commands.js';
import { QmpCommandError, QmpTimeoutError } from '../qmp/errors.js';
import { guestConfirms } from './confirm.js';
import { deadlinesOf, type HotplugContext, limitsOf } from './context.js';
import {
  HotplugCapacityError,
  HotplugInputError,
  HotplugNotSupportedError,
  HotplugTimeoutError,
  VcpuHotplugError,
} from './errors.js';
import { waitUntil } from './guest-probe.js';
import { toHotplugError } from './steps.js';
import type { ConfirmedBy, ResizeVcpusResult } from './types.js';

/** Machines whose CPUs are addressed by core only (Kata's qemu.go drops socket/die/thread there). */
const CORE_ONLY_MACHINES: ReadonlySet<string> = new Set(['pseries', 's390-ccw-virtio']);

/**
 * device_add arguments for a free CPU slot from `query-hotpluggable-cpus`: socket/die/core/thread
 * ids as integers (core only on pseries and s390x, as Kata's qemu.go `hotplugAddCPUs`).
 */
export function cpuDeviceArgs(machineType: string, slot: QmpHotpluggableCpu, id: string): QmpDeviceAddArgs {
  const p = slot.props;
  const args: QmpDeviceAddArgs = { driver: slot.type, id };
  if (p['core-id'] !== undefined) args['core-id'] = p['core-id'];
  if (!CORE_ONLY_MACHINES.has(machineType)) {
    if (p['socket-id'] !== undefined) args['socket-id'] = p['socket-id'];
    if (p['die-id'] !== undefined) args['die-id'] = p['die-id'];
    if (p['thread-id'] !== undefined) args['thread-id'] = p['thread-id'];
  }
  return args;
}

/**
 * Whether a `DEVICE_DELETED` event means vCPU `id` is gone. QEMU 7.2 reports the ejected x86 CPU
 * through its children (`/machine/peripheral/<id>/lapic`) — the CPU object itself lingers until
 * its thread is reaped — so the device id or any path under the CPU counts.
 */
export function isCpuDeleted(data: Record<string, unknown>, id: string): boolean {
  if (data.device === id) return true;
  const path = typeof data.path === 'string' ? data.path : '';
  return path === `/machine/peripheral/${id}` || path.startsWith(`/machine/peripheral/${id}/`);
}

/** Orders hot-pluggable CPU slots by socket, die, core, thread id. */
export function compareCpuSlots(a: QmpHotpluggableCpu, b: QmpHotpluggableCpu): number {
  for (const k of ['socket-id', 'die-id', 'core-id', 'thread-id'] as const) {
    const d = (a.props[k] ?? 0) - (b.props[k] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function cpuProps(args: QmpDeviceAddArgs): Record<string, number> {
  const props: Record<string, number> = {};
  for (const [k, v] of Object.entries(args)) if (k.endsWith('-id') && typeof v === 'number') props[k] = v;
  return props;
}

/** Whether an `ACPI_DEVICE_OST` event is the guest's successful acknowledgment of vCPU `id`'s insertion. */
export function isCpuInserted(data: Record<string, unknown>, id: string): boolean {
  const info = data.info as { device?: unknown; source?: unknown; status?: unknown } | undefined;
  return info?.device === id && (info.source === 1 || info.source === 0) && info.status === 0;
}

/** Online vCPUs as the guest will count them after a change. */
async function confirmCpus(ctx: HotplugContext, expected: number): Promise<ConfirmedBy> {
  const guest = ctx.guest;
  if (!guest || !guestConfirms(ctx)) return 'qemu';
  await waitUntil(
    `the guest having ${expected} online vCPUs`,
    (s) => guest.onlineCpus(s),
    (n) => n === expected,
    {
      deadlineMs: deadlinesOf(ctx).guestMs,
      signal: ctx.signal,
      wake: ctx.guest?.changed?.bind(ctx.guest),
    },
  );
  return 'guest';
}

/**
 * Hot-adds up to `amount` vCPUs; clamped to max vCPUs with a warning (Kata's qemu.go does not fail).
 * Returns how many were added. A CPU QEMU refuses is skipped; if fewer than asked were added, a
 * {@link VcpuHotplugError} carries the count (the added ones stay).
 */
export async function hotplugAddCPUs(
  ctx: HotplugContext,
  amount: number,
): Promise<{ added: number; clamped: boolean }> {
  const limits = limitsOf(ctx);
  const current = limits.bootVcpus + ctx.record.vcpus.length;
  let clamped = false;
  if (current + amount > limits.maxVcpus) {
    ctx.logger?.warn(
      { amount, current, max: limits.maxVcpus },
      `Cannot hotplug ${amount} CPUs, currently this SB has ${current} CPUs and the maximum amount of CPUs is ${limits.maxVcpus}`,
    );
    amount = Math.max(0, limits.maxVcpus - current);
    clamped = true;
  }
  if (amount === 0) {
    ctx.logger?.warn(`maximum number of vCPUs '${limits.maxVcpus}' has been reached`);
    return { added: 0, clamped };
  }
  const { commandMs } = deadlinesOf(ctx);
  let added = 0;
  try {
    const slots = await ctx.qmp.execute('query-hotpluggable-cpus', undefined, {
      timeoutMs: commandMs,
      signal: ctx.signal,
    });
    // Lowest topology ids first (QEMU lists them highest first): the guest's new CPU gets the next
    // APIC id. Hot-adding socket 3 before 1 and 2 left the 6.1 guest unable to online it under TCG.
    const ordered = [...slots].sort(compareCpuSlots);
    for (const slot of ordered) {
      if (slot['qom-path'] !== undefined && slot['qom-path'] !== '') continue; // in use
      const id = ctx.record.nextVcpuId();
      const args = cpuDeviceArgs(ctx.config.hypervisorMachineType, slot, id);
      try {
        if (ctx.guest && !ctx.paused) {
          // A running guest acknowledges the insertion with _OST: wait for it before touching the CPU.
          await ctx.qmp.executeAndWaitFor(
            'device_add',
            args,
            (e) => e.event === 'ACPI_DEVICE_OST' && isCpuInserted(e.data, id),
            {
              timeoutMs: deadlinesOf(ctx).guestMs,
              signal: ctx.signal,
            },
          );
        } else {
          await ctx.qmp.execute('device_add', args, { timeoutMs: commandMs, signal: ctx.signal });
        }
      } catch (err) {
        if (err instanceof QmpCommandError) {
          ctx.logger?.warn({ err, id }, 'vCPU hot-add refused; trying the next slot');
          continue; // don't fail, let's try with other CPU (Kata's qemu.go)
        }
        // Timed out or aborted: QEMU may have the CPU anyway; record what QEMU says so state and QMP agree.
        const now = await ctx.qmp
          .execute('query-hotpluggable-cpus', undefined, { timeoutMs: commandMs })
          .catch(() => []);
        if (now.some((c) => c['qom-path'] === `/machine/peripheral/${id}`)) {
          ctx.record.addVcpu({ id, props: cpuProps(args) });
          added++;
        }
        throw err;
      }
      ctx.record.addVcpu({ id, props: cpuProps(args) });
      added++;
      if (added === amount) return { added, clamped };
    }
  } catch (err) {
    const e = toHotplugError(err);
    throw new VcpuHotplugError(`vCPU hot-add stopped after ${added} of ${amount}: ${e.message}`, added, {
      cause: e,
    });
  }
  throw new VcpuHotplugError(`failed to hot add vCPUs: only ${added} vCPUs of ${amount} were added`, added);
}

/**
 * Hot-removes the `amount` most recently added vCPUs, each device_del → `DEVICE_DELETED`. Only
 * hot-added vCPUs can go; while paused the guest cannot acknowledge, so it is refused.
 */
export async function hotplugRemoveCPUs(ctx: HotplugContext, amount: number): Promise<number> {
  const hotplugged = ctx.record.vcpus.length;
  if (amount > hotplugged) {
    throw new HotplugCapacityError(
      'hotplugged-cpus',
      `Unable to remove ${amount} CPUs, currently there are only ${hotplugged} hotplugged CPUs`,
    );
  }
  if (amount > 0 && ctx.accelerator === 'tcg' && !ctx.allowTcgVcpuUnplug) {
    throw new HotplugNotSupportedError(
      'vCPU hot-remove is refused under TCG: QEMU 7.2 crashes (SIGSEGV) on the next hot-plug after a vCPU was unplugged',
    );
  }
  if (ctx.paused && amount > 0) {
    throw new HotplugNotSupportedError(
      'vCPUs cannot be removed while the VM is paused (the guest must acknowledge)',
    );
  }
  const { deviceDeletedMs } = deadlinesOf(ctx);
  for (let i = 0; i < amount; i++) {
    const cpu = ctx.record.vcpus[ctx.record.vcpus.length - 1];
    if (!cpu) break;
    try {
      await ctx.qmp.executeAndWaitFor(
        'device_del',
        { id: cpu.id },
        (e) => e.event === 'DEVICE_DELETED' && isCpuDeleted(e.data, cpu.id),
        { timeoutMs: deviceDeletedMs, signal: ctx.signal },
      );
    } catch (err) {
      const e =
        err instanceof QmpTimeoutError
          ? new HotplugTimeoutError(`DEVICE_DELETED for vCPU \`${cpu.id}\``, deviceDeletedMs, { cause: err })
          : toHotplugError(err);
      throw new VcpuHotplugError(
        `failed to hotunplug CPUs, only ${i} CPUs were hotunplugged: ${e.message}`,
        i,
        {
          cause: e,
        },
      );
    }
    ctx.record.removeVcpu(cpu.id);
  }
  return amount;
}

/**
 * Kata's qemu.go `resizeVCPUs`: hot-add or hot-remove towards `count`; returns `currentVCPUs` (before)
 * and `newVCPUs` (after), plus the counts.
 */
export async function resizeVCPUs(
  ctx: HotplugContext,
  count: number,
  strict = false,
): Promise<ResizeVcpusResult> {
  if (!Number.isInteger(count) || count < 1) {
    throw new HotplugInputError(`Expected \`count\` to be a positive integer, got \`${String(count)}\``);
  }
  const limits = limitsOf(ctx);
  if (strict && count > limits.maxVcpus) {
    throw new HotplugCapacityError(
      'maxcpus',
      `Expected at most ${limits.maxVcpus} vCPUs (max vCPUs), got \`${count}\``,
    );
  }
  const currentVCPUs = limits.bootVcpus + ctx.record.vcpus.length;
  let added = 0;
  let removed = 0;
  let clamped = false;
  if (count > currentVCPUs) {
    const r = await hotplugAddCPUs(ctx, count - currentVCPUs);
    added = r.added;
    clamped = r.clamped;
  } else if (count < currentVCPUs) {
    removed = await hotplugRemoveCPUs(ctx, currentVCPUs - count);
  }
  const newVCPUs = currentVCPUs + added - removed;
  // A phase of its own only while the guest is awaited (as for a device: see hotplugDevice).
  if ((added > 0 || removed > 0) && guestConfirms(ctx)) ctx.emit('applied');
  const confirmedBy = added > 0 || removed > 0 ? await confirmCpus(ctx, newVCPUs) : 'qemu';
  return { kind: 'resize-vcpus', currentVCPUs, newVCPUs, added, removed, clamped, confirmedBy };
}
