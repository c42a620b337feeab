// Character devices: a chardev plus the device on it (govmm `CharDevice`: virtconsole,
// virtserialport, emulated UARTs, legacy `-serial`), and the virtio-serial bus (govmm `SerialDevice`).
import type { ChardevArgs, ChardevBackendArgs, DeviceAddArgs, QemuObjects } from './objects.js';
import { modernProps, pciAddr, resolveTransport, transportProps, virtioDriver } from './transport.js';
import type { CharDevice, DeviceContext, SerialDevice } from './types.js';
import { validateChar, validateSerial } from './validate-char.js';

/**
 * The chardev of a char device as `chardev-add` takes it; `-chardev` is derived from it
 * (`chardevOptions`). A socket given by path listens (`server: true, wait: false`) unless
 * `server: false`; one given by fd listens only when `server: true`. `tty` is QMP's `serial`.
 *
 * @example
 * chardevOf({ type: 'char', driver: 'virtconsole', backend: 'socket', id: 'c0', path: '/run/c.sock' })
 * // => { id: 'c0', backend: { type: 'socket', data: { addr: { type: 'unix', data: { path: '/run/c.sock' } }, server: true, wait: false } } }
 */
export function chardevOf(dev: CharDevice): ChardevArgs {
  let backend: ChardevBackendArgs;
  switch (dev.backend) {
    case 'socket': {
      const server = dev.fd !== undefined ? dev.server === true : dev.server !== false;
      backend = {
        type: 'socket',
        data: {
          addr:
            dev.fd !== undefined
              ? { type: 'fd', data: { str: String(dev.fd) } }
              : { type: 'unix', data: { path: dev.path! } },
          server,
          ...(server ? { wait: false } : {}),
        },
      };
      break;
    }
    case 'file':
      backend = { type: 'file', data: { out: dev.path! } };
      break;
    case 'pipe':
      backend = { type: 'pipe', data: { device: dev.path! } };
      break;
    case 'serial':
    case 'tty':
      backend = { type: 'serial', data: { device: dev.path! } };
      break;
    case 'pty':
    case 'null':
    case 'stdio':
      backend = { type: dev.backend, data: {} };
      break;
  }
  return { id: dev.id, backend };
}

/**
 * The chardev and `device_add <driver>,chardev=<id>,id=<deviceId>[,name=...]`; the legacy `serial`
 * driver is the chardev plus `-serial chardev:<id>` (command line only, no device, as in govmm).
 *
 * @example
 * charObjects({ type: 'char', driver: 'virtserialport', backend: 'socket', id: 'ch0', deviceId: 'port0',
 *   path: '/run/agent.sock', name: 'agent.channel.0' }, { arch: 'amd64', machineType: 'q35' })
 * // => { chardevs: [chardevOf(...)], device: { driver: 'virtserialport', chardev: 'ch0', id: 'port0', name: 'agent.channel.0' } }
 */
export function charObjects(dev: CharDevice, ctx: DeviceContext): QemuObjects {
  validateChar(dev, ctx);
  const chardevs = [chardevOf(dev)];
  if (dev.driver === 'serial') return { chardevs, argv: ['-serial', `chardev:${dev.id}`] };
  const device: DeviceAddArgs = { driver: dev.driver };
  if (dev.bus !== undefined) device.bus = dev.bus;
  device.chardev = dev.id;
  device.id = dev.deviceId!;
  if (dev.name !== undefined) device.name = dev.name;
  if (dev.driver === 'pci-serial') {
    if (dev.addr !== undefined) device.addr = pciAddr(dev.addr);
    if (dev.romfile !== undefined) device.romfile = dev.romfile;
  }
  return { chardevs, device };
}

/**
 * `device_add virtio-serial-<transport>,id=<id>[,max_ports=N]`: the bus virtconsole/virtserialport
 * ports plug into (`<id>.0`).
 *
 * @example
 * serialObjects({ type: 'serial', driver: 'virtio-serial', id: 'serial0' }, { arch: 's390x', machineType: 's390-ccw-virtio' })
 * // => { device: { driver: 'virtio-serial-ccw', id: 'serial0' } }
 */
export function serialObjects(dev: SerialDevice, ctx: DeviceContext): QemuObjects {
  validateSerial(dev, ctx);
  return {
    device: {
      driver: virtioDriver('virtio-serial', resolveTransport(dev, ctx)),
      ...modernProps(dev, ctx),
      id: dev.id,
      ...(dev.maxPorts !== undefined ? { max_ports: dev.maxPorts } : {}),
      ...transportProps(dev, ctx),
    },
  };
}
