// Phase two of a device hot plug: the guest reporting the new disk or NIC, within the guest deadline.
import type { Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { deadlinesOf, type HotplugContext } from './context.js';
import { type GuestDisk, waitUntil } from './guest-probe.js';
import type { ConfirmedBy } from './types.js';

/** How phase two ended, and the guest's name for the device when it reported one. */
export interface Confirmation {
  readonly confirmedBy: ConfirmedBy;
  readonly guestPath?: string;
}

/**
 * Size of a block device in bytes, as BLKGETSIZE64 reports it: Node has no ioctl, so it is read
 * from sysfs (`/sys/dev/block/<major>:<minor>/size`, in 512-byte sectors, the same number).
 */
export async function blockDeviceSizeBytes(st: Stats): Promise<number> {
  const major = Math.floor(st.rdev / 256) & 0xfff;
  const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
  const sectors = Number((await readFile(`/sys/dev/block/${major}:${minor}/size`, 'utf8')).trim());
  return sectors * 512;
}

/** Whether phase two asks the guest (a guest probe, not paused); else QEMU's word ends it. */
export function guestConfirms(ctx: HotplugContext): boolean {
  return ctx.guest !== undefined && !ctx.paused;
}

/**
 * The guest's disks before a plug (to tell the new one apart): re-asked within the longer of the
 * command deadline and the guest deadline — a guest just resumed on a busy TCG host, onlining vCPUs
 * and dropping a disk unplugged while paused, can take longer than a QMP command's 10 s to answer,
 * and a short per-call guest deadline is phase two's, not this question's; `undefined` without a
 * guest or while paused.
 */
export async function guestDisksBefore(ctx: HotplugContext): Promise<readonly GuestDisk[] | undefined> {
  const guest = ctx.guest;
  if (!guest || ctx.paused) return undefined;
  const { commandMs, guestMs } = deadlinesOf(ctx);
  return waitUntil(
    "the guest's list of disks",
    (s) => guest.blockDevices(s),
    () => true,
    { deadlineMs: Math.max(commandMs, guestMs), signal: ctx.signal },
  );
}

/** Waits until the guest lists a disk not in `before` that `match`es; QEMU's word without a guest or while paused. */
export async function confirmDisk(
  ctx: HotplugContext,
  what: string,
  before: readonly GuestDisk[] | undefined,
  match: (d: GuestDisk) => boolean,
): Promise<Confirmation> {
  const guest = ctx.guest;
  if (!guest || ctx.paused) return { confirmedBy: 'qemu' };
  const known = new Set((before ?? []).map((d) => d.name));
  const disks = await waitUntil(
    `the guest seeing ${what}`,
    (s) => guest.blockDevices(s),
    (list) => list.some((d) => !known.has(d.name) && match(d)),
    { deadlineMs: deadlinesOf(ctx).guestMs, signal: ctx.signal, wake: guest.changed?.bind(guest) },
  );
  const found = disks.find((d) => !known.has(d.name) && match(d));
  return { confirmedBy: 'guest', ...(found ? { guestPath: found.name } : {}) };
}

/** Waits until the guest has a NIC with `mac`; without a MAC (or a guest) QEMU's word is phase two. */
export async function confirmNic(
  ctx: HotplugContext,
  id: string,
  mac: string | undefined,
): Promise<Confirmation> {
  const guest = ctx.guest;
  if (!guest || ctx.paused || mac === undefined) return { confirmedBy: 'qemu' };
  const want = mac.toLowerCase();
  const nics = await waitUntil(
    `the guest seeing NIC \`${id}\` (${want})`,
    (s) => guest.nics(s),
    (list) => list.some((n) => n.mac === want),
    { deadlineMs: deadlinesOf(ctx).guestMs, signal: ctx.signal, wake: guest.changed?.bind(guest) },
  );
  const found = nics.find((n) => n.mac === want);
  return { confirmedBy: 'guest', ...(found ? { guestPath: found.name } : {}) };
}
