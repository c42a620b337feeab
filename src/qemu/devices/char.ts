// Character devices: a `-chardev` backend plus the device on it (govmm `CharDevice`: virtconsole,
// virtserialport, emulated UARTs, legacy `-serial`), and the virtio-serial bus (govmm `SerialDevice`).
import { formatOptions, type OptionPart } from '../escape.js';
import { modernParts, resolveTransport, transportParts, virtioDriver } from './transport.js';
import type { CharDevice, DeviceContext, SerialDevice } from './types.js';
import { validateChar, validateSerial } from './validate.js';

/**
 * The `-chardev` option string of a char device. QEMU 7.2: a listening socket is
 * `server=on,wait=off` (govmm's `server,nowait` short booleans are deprecated since QEMU 6.0).
 *
 * @example
 * chardevOptions({ type: 'char', driver: 'virtconsole', backend: 'socket', id: 'c0', path: '/run/c.sock' })
 * // => 'socket,id=c0,path=/run/c.sock,server=on,wait=off'
 */
export function chardevOptions(dev: CharDevice): string {
  const parts: OptionPart[] = [dev.backend, ['id', dev.id]];
  if (dev.backend === 'socket') {
    if (dev.fd !== undefined) {
      parts.push(['fd', dev.fd]);
      if (dev.server === true) parts.push(['server', true], ['wait', false]);
    } else {
      parts.push(['path', dev.path!]);
      if (dev.server !== false) parts.push(['server', true], ['wait', false]);
    }
  } else if (dev.path !== undefined && PATH_BACKENDS.has(dev.backend)) {
    parts.push(['path', dev.path]);
  }
  return formatOptions(parts);
}

const PATH_BACKENDS: ReadonlySet<string> = new Set(['file', 'pipe', 'serial', 'tty']);

/**
 * `-device <driver>,chardev=<id>,id=<deviceId>[,name=...] -chardev ...` in govmm's order; the
 * legacy `serial` driver is `-chardev ... -serial chardev:<id>` (no `-device`, as in govmm).
 *
 * @example
 * charArgs({ type: 'char', driver: 'virtserialport', backend: 'socket', id: 'ch0', deviceId: 'port0',
 *   path: '/run/agent.sock', name: 'agent.channel.0' }, { arch: 'amd64', machineType: 'q35' })
 * // => ['-device', 'virtserialport,chardev=ch0,id=port0,name=agent.channel.0',
 * //     '-chardev', 'socket,id=ch0,path=/run/agent.sock,server=on,wait=off']
 */
export function charArgs(dev: CharDevice, ctx: DeviceContext): string[] {
  validateChar(dev, ctx);
  const chardev = chardevOptions(dev);
  if (dev.driver === 'serial') return ['-chardev', chardev, '-serial', `chardev:${dev.id}`];
  const device: OptionPart[] = [dev.driver];
  if (dev.bus !== undefined) device.push(['bus', dev.bus]);
  device.push(['chardev', dev.id], ['id', dev.deviceId!]);
  if (dev.name !== undefined) device.push(['name', dev.name]);
  if (dev.driver === 'pci-serial') {
    if (dev.addr !== undefined) device.push(['addr', dev.addr]);
    if (dev.romfile !== undefined) device.push(['romfile', dev.romfile]);
  }
  return ['-device', formatOptions(device), '-chardev', chardev];
}

/**
 * `-device virtio-serial-<transport>,id=<id>[,max_ports=N]`: the bus virtconsole/virtserialport
 * ports plug into (`<id>.0`).
 *
 * @example
 * serialArgs({ type: 'serial', driver: 'virtio-serial', id: 'serial0' }, { arch: 's390x', machineType: 's390-ccw-virtio' })
 * // => ['-device', 'virtio-serial-ccw,id=serial0']
 */
export function serialArgs(dev: SerialDevice, ctx: DeviceContext): string[] {
  validateSerial(dev, ctx);
  const device: OptionPart[] = [
    virtioDriver('virtio-serial', resolveTransport(dev, ctx)),
    ...modernParts(dev, ctx),
    ['id', dev.id],
  ];
  if (dev.maxPorts !== undefined) device.push(['max_ports', dev.maxPorts]);
  device.push(...transportParts(dev, ctx));
  return ['-device', formatOptions(device)];
}
