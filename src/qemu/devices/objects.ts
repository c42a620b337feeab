// QemuObjects: what one device needs, in QMP's shapes; its command-line form (JSON where QEMU 7.2
// takes it) and its hot-plug commands, so cold and hot plug send exactly the same objects.
import type {
  QmpBlockdevAddArgs,
  QmpChardevBackend,
  QmpDeviceAddArgs,
  QmpNetdevAddArgs,
  QmpObjectAddArgs,
} from '../../qmp/commands.js';
import { formatOptions, type OptionPart } from '../escape.js';
import { QemuDeviceError } from './errors.js';

/** A chardev backend as `chardev-add` takes it (`ChardevBackend`), plus the stdio/pipe/serial ones. */
export type ChardevBackendArgs =
  | QmpChardevBackend
  | { type: 'stdio'; data: { signal?: boolean } }
  | { type: 'pipe' | 'serial'; data: { device: string } };

/** Arguments of `chardev-add`; {@link chardevOptions} derives the `-chardev` form from the same value. */
export interface ChardevArgs {
  id: string;
  backend: ChardevBackendArgs;
}

/** Arguments of `object-add` (memory backends, rng sources, iothreads). */
export type ObjectAddArgs = QmpObjectAddArgs | { 'qom-type': 'iothread'; id: string };
/** Arguments of `blockdev-add`. */
export type BlockdevAddArgs = QmpBlockdevAddArgs;
/** Arguments of `netdev_add`. */
export type NetdevAddArgs = QmpNetdevAddArgs;
/** Arguments of `device_add`. */
export type DeviceAddArgs = QmpDeviceAddArgs;

/** What an fd passed to QEMU is for. */
export type FdPurpose = 'tap' | 'vhost-net' | 'vhost-vsock';

/**
 * An fd the objects refer to: a number as QEMU sees it (cold plug: inherited at that number) or a
 * monitor fd name (hot plug: sent with `getfd` before the commands).
 */
export interface DeviceFd {
  readonly ref: number | string;
  readonly purpose: FdPurpose;
}

/** Everything one device needs, in QMP's shapes. */
export interface QemuObjects {
  readonly chardevs?: readonly ChardevArgs[];
  readonly objects?: readonly ObjectAddArgs[];
  readonly blockdevs?: readonly BlockdevAddArgs[];
  readonly netdevs?: readonly NetdevAddArgs[];
  readonly device?: DeviceAddArgs;
  /** Command-line-only parts, with no QMP/JSON form (`-fsdev`, legacy `-serial`, `-no-shutdown`). */
  readonly argv?: readonly string[];
  /** The fds the objects refer to (`fds`/`vhostfds` of a tap netdev, `vhostfd` of vhost-vsock). */
  readonly fds?: readonly DeviceFd[];
}

/** One QMP command of a hot plug, with the command that undoes it. */
export interface HotplugCommand {
  readonly execute: 'chardev-add' | 'object-add' | 'blockdev-add' | 'netdev_add' | 'device_add';
  readonly arguments: object;
  readonly undo?: {
    readonly execute: 'chardev-remove' | 'object-del' | 'blockdev-del' | 'netdev_del' | 'device_del';
    readonly arguments: object;
  };
}

/**
 * The `-chardev` value of a chardev, derived from its `chardev-add` arguments. QEMU 7.2 has no
 * JSON form of `-chardev` (it parses `{...}` as key=value and refuses it), so this stays
 * key=value with commas doubled; a listening socket is `server=on,wait=off`.
 *
 * @example
 * chardevOptions({ id: 'c0', backend: { type: 'socket', data: { addr: { type: 'unix', data: { path: '/run/c.sock' } }, server: true, wait: false } } })
 * // => 'socket,id=c0,path=/run/c.sock,server=on,wait=off'
 */
export function chardevOptions(c: ChardevArgs): string {
  const b = c.backend;
  const parts: OptionPart[] = [b.type, ['id', c.id]];
  switch (b.type) {
    case 'socket': {
      const a = b.data.addr;
      if (a.type === 'unix') parts.push(['path', a.data.path]);
      else if (a.type === 'fd') parts.push(['fd', a.data.str]);
      else parts.push(['host', a.data.host], ['port', a.data.port]);
      if (b.data.server === true) parts.push(['server', true], ['wait', b.data.wait ?? false]);
      if (b.data.reconnect !== undefined) parts.push(['reconnect', b.data.reconnect]);
      break;
    }
    case 'file':
      parts.push(['path', b.data.out]);
      break;
    case 'pipe':
    case 'serial':
      parts.push(['path', b.data.device]);
      break;
    default:
      break;
  }
  return formatOptions(parts);
}

/** A value as QEMU's JSON option syntax takes it (`-device '{...}'`); undefined members dropped. */
export function jsonOption(value: object): string {
  return JSON.stringify(value);
}

/**
 * The command line of a device's objects, in dependency order: `-chardev` (key=value: no JSON in
 * 7.2), `-object '{...}'`, `-blockdev '{...}'`, `-netdev '{...}'`, the command-line-only parts,
 * then `-device '{...}'`. Every JSON form was checked by launching qemu-system-x86_64 7.2
 * (test/integration/qemu-devices-qemu.test.ts launches every device golden).
 *
 * @example
 * objectsToArgv({ objects: [{ 'qom-type': 'rng-random', id: 'rng0', filename: '/dev/urandom' }],
 *   device: { driver: 'virtio-rng-pci', rng: 'rng0' } })
 * // => ['-object', '{"qom-type":"rng-random","id":"rng0","filename":"/dev/urandom"}',
 * //     '-device', '{"driver":"virtio-rng-pci","rng":"rng0"}']
 */
export function objectsToArgv(o: QemuObjects): string[] {
  const out: string[] = [];
  for (const c of o.chardevs ?? []) out.push('-chardev', chardevOptions(c));
  for (const x of o.objects ?? []) out.push('-object', jsonOption(x));
  for (const b of o.blockdevs ?? []) out.push('-blockdev', jsonOption(b));
  for (const n of o.netdevs ?? []) out.push('-netdev', jsonOption(n));
  out.push(...(o.argv ?? []));
  if (o.device) out.push('-device', jsonOption(o.device));
  return out;
}

/**
 * The QMP commands that hot-plug a device's objects, in order (chardev-add, object-add,
 * blockdev-add, netdev_add, device_add), each with its undo (chardev-remove, object-del,
 * blockdev-del, netdev_del, device_del). fds named in the objects must be sent with `getfd`
 * first (the caller's job: it holds the host fds). A device with command-line-only parts
 * (9p's `-fsdev`, legacy `-serial`) cannot be hot-plugged: `QemuDeviceError`.
 *
 * @example
 * for (const c of hotplugCommands(buildQemuObjects(device, ctx))) await qmp.execute(c.execute, c.arguments);
 */
export function hotplugCommands(o: QemuObjects): HotplugCommand[] {
  if (o.argv !== undefined && o.argv.length > 0) {
    throw new QemuDeviceError(
      'device',
      'a device QEMU can hot-plug over QMP (no command-line-only parts)',
      o.argv.join(' '),
    );
  }
  const out: HotplugCommand[] = [];
  for (const c of o.chardevs ?? []) {
    out.push({
      execute: 'chardev-add',
      arguments: c,
      undo: { execute: 'chardev-remove', arguments: { id: c.id } },
    });
  }
  for (const x of o.objects ?? []) {
    out.push({
      execute: 'object-add',
      arguments: x,
      undo: { execute: 'object-del', arguments: { id: x.id } },
    });
  }
  for (const b of o.blockdevs ?? []) {
    const node = b['node-name'];
    out.push({
      execute: 'blockdev-add',
      arguments: b,
      ...(node !== undefined ? { undo: { execute: 'blockdev-del', arguments: { 'node-name': node } } } : {}),
    });
  }
  for (const n of o.netdevs ?? []) {
    out.push({
      execute: 'netdev_add',
      arguments: n,
      undo: { execute: 'netdev_del', arguments: { id: n.id } },
    });
  }
  if (o.device) {
    const id = o.device.id;
    out.push({
      execute: 'device_add',
      arguments: o.device,
      ...(id !== undefined ? { undo: { execute: 'device_del', arguments: { id } } } : {}),
    });
  }
  return out;
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
};

/**
 * A size like `1M` in bytes: JSON options take sizes as numbers only (QEMU's key=value parser
 * took the suffix).
 *
 * @example
 * sizeBytes('32M') // => 33554432
 */
export function sizeBytes(size: string): number {
  const m = /^(\d+)([KMGT]?)$/.exec(size);
  if (!m) throw new QemuDeviceError('size', 'a size like `1M`, `32M`, `2G`', size);
  return Number(m[1]) * (SIZE_UNITS[m[2] ?? ''] ?? 1);
}
