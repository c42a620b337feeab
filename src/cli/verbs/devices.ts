// Client verbs that modify a running VM: attach-disk, detach-disk, set-vcpus, set-memory.
import { basename, resolve } from 'node:path';
import { call } from './client.js';
import { EXIT, parseVerb, printJson, runVerb, UsageError } from './common.js';

const OPTS = '[--socket PATH] [--json]';

/** A device id from a file name: `disk-<stem>`, QEMU id syntax, at most 25 characters. */
export function diskIdFor(file: string): string {
  const stem = basename(file)
    .replace(/\.[^.]*$/, '')
    .replace(/[^A-Za-z0-9_.-]/g, '-');
  return `disk-${stem}`.slice(0, 25).replace(/[-.]+$/, '');
}

function path(id: string, rest = ''): string {
  return `/sandboxes/${encodeURIComponent(id)}${rest}`;
}

function intArg(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (raw === undefined || !Number.isInteger(n) || n < 1) {
    throw new UsageError(`Expected \`${name}\` to be a positive integer, got \`${raw}\``);
  }
  return n;
}

/** `vmactor attach-disk ID FILE [DEVICE-ID] [--readonly] [--format raw|qcow2] [--driver D]`. */
export function attachDisk(argv: readonly string[]): Promise<number> {
  const usage = `usage: vmactor attach-disk ID FILE [DEVICE-ID] [--readonly] [--format raw|qcow2] [--driver D] ${OPTS}

Hot-plugs FILE into the running sandbox as a disk (device id default: disk-<file stem>).
`;
  return runVerb('attach-disk', usage, async () => {
    const a = parseVerb(
      argv,
      usage,
      { readonly: { type: 'boolean' }, format: { type: 'string' }, driver: { type: 'string' } },
      { min: 2, max: 3 },
    );
    if (!a) return EXIT.ok;
    const [id, file, devId] = a.positionals as [string, string, string | undefined];
    const spec = {
      kind: 'block',
      id: devId ?? diskIdFor(file),
      file: resolve(file),
      ...(a.values.readonly ? { readOnly: true } : {}),
      ...(a.values.format ? { format: a.values.format } : {}),
      ...(a.values.driver ? { driver: a.values.driver } : {}),
    };
    const r = await call<{ id: string; guestPath?: string }>(a.socket, 'POST', path(id, '/devices'), spec);
    if (a.json) printJson(r);
    else
      process.stdout.write(`${id}: attached ${r.id}${r.guestPath ? ` (${r.guestPath} in the guest)` : ''}\n`);
    return EXIT.ok;
  });
}

/** `vmactor detach-disk ID DEVICE-ID`. */
export function detachDisk(argv: readonly string[]): Promise<number> {
  const usage = `usage: vmactor detach-disk ID DEVICE-ID ${OPTS}\n\nUnplugs the device (device_del, then DEVICE_DELETED).\n`;
  return runVerb('detach-disk', usage, async () => {
    const a = parseVerb(argv, usage, {}, { min: 2, max: 2 });
    if (!a) return EXIT.ok;
    const [id, dev] = a.positionals as [string, string];
    const r = await call<{ removed: boolean }>(
      a.socket,
      'DELETE',
      path(id, `/devices/${encodeURIComponent(dev)}`),
    );
    if (a.json) printJson(r);
    else process.stdout.write(`${id}: ${r.removed ? 'detached' : 'detach pending'} ${dev}\n`);
    return EXIT.ok;
  });
}

/** `vmactor set-vcpus ID COUNT [--strict]`. */
export function setVcpus(argv: readonly string[]): Promise<number> {
  const usage = `usage: vmactor set-vcpus ID COUNT [--strict] ${OPTS}\n\nSets the number of vCPUs (hot plug / unplug); --strict refuses above max vCPUs instead of clamping.\n`;
  return runVerb('set-vcpus', usage, async () => {
    const a = parseVerb(argv, usage, { strict: { type: 'boolean' } }, { min: 2, max: 2 });
    if (!a) return EXIT.ok;
    const [id, raw] = a.positionals as [string, string];
    const body = { count: intArg('COUNT', raw), ...(a.values.strict ? { strict: true } : {}) };
    const r = await call<{ currentVCPUs: number; newVCPUs: number }>(
      a.socket,
      'PUT',
      path(id, '/vcpus'),
      body,
    );
    if (a.json) printJson(r);
    else process.stdout.write(`${id}: vCPUs ${r.currentVCPUs} -> ${r.newVCPUs}\n`);
    return EXIT.ok;
  });
}

/** `vmactor set-memory ID MIB`. */
export function setMemory(argv: readonly string[]): Promise<number> {
  const usage = `usage: vmactor set-memory ID MIB ${OPTS}\n\nResizes guest memory to MIB in total (pc-dimm or virtio-mem).\n`;
  return runVerb('set-memory', usage, async () => {
    const a = parseVerb(argv, usage, {}, { min: 2, max: 2 });
    if (!a) return EXIT.ok;
    const [id, raw] = a.positionals as [string, string];
    const r = await call<{ previousMiB: number; currentMiB: number }>(a.socket, 'PUT', path(id, '/memory'), {
      mib: intArg('MIB', raw),
    });
    if (a.json) printJson(r);
    else process.stdout.write(`${id}: memory ${r.previousMiB} MiB -> ${r.currentMiB} MiB\n`);
    return EXIT.ok;
  });
}
