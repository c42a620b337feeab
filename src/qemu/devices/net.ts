// Network devices on tap/macvtap backends (govmm `NetDevice`): tap fds, vhost-net fds, multiqueue.
import { formatOptions, type OptionPart } from '../escape.js';
import { isVirtioPCI, modernParts, resolveTransport, transportParts, virtioDriver } from './transport.js';
import type { DeviceContext, NetDevice } from './types.js';
import { validateNet } from './validate.js';

/** Queue count of a NIC: one per tap fd, else `queues`, else 1. */
export function netQueues(dev: Pick<NetDevice, 'fds' | 'queues'>): number {
  return dev.fds && dev.fds.length > 0 ? dev.fds.length : (dev.queues ?? 1);
}

/**
 * Multiqueue knobs for the device: `mq=on` plus, on PCI, `vectors=2*queues+2` (one MSI-X vector per
 * rx and tx queue, plus config and control; linux-kvm.org Multiqueue). govmm emits them whenever
 * fds are passed; vmactor only for more than one queue, where they mean something.
 */
export function mqParts(queues: number, pci: boolean): OptionPart[] {
  if (queues <= 1) return [];
  return pci
    ? [
        ['mq', true],
        ['vectors', 2 * queues + 2],
      ]
    : [['mq', true]];
}

/**
 * `-device virtio-net-<transport>,netdev=...,mac=... -netdev tap,id=...,...` in govmm's order.
 * Without fds QEMU opens the tap by `ifname`; `script`/`downscript` default to `no` (govmm omits
 * them, and QEMU would then run /etc/qemu-ifup as root).
 *
 * @example
 * netArgs({ type: 'net', netType: 'tap', driver: 'virtio-net', id: 'net0', ifname: 'tap0',
 *   mac: '52:54:00:00:00:01', fds: [3, 4], vhost: true, vhostFds: [5, 6] }, { arch: 'amd64', machineType: 'q35' })
 * // => ['-device', 'virtio-net-pci,netdev=net0,mac=52:54:00:00:00:01,mq=on,vectors=6',
 * //     '-netdev', 'tap,id=net0,vhost=on,vhostfds=5:6,fds=3:4']
 */
export function netArgs(dev: NetDevice, ctx: DeviceContext): string[] {
  validateNet(dev, ctx);
  const queues = netQueues(dev);
  const driver =
    dev.driver === 'virtio-net' ? virtioDriver('virtio-net', resolveTransport(dev, ctx)) : dev.driver;
  const t = dev.driver === 'virtio-net' ? dev : { ...dev, transport: transportOf(dev.driver) };
  const device: OptionPart[] = [driver, ...modernParts(t, ctx), ['netdev', dev.id], ['mac', dev.mac]];
  if (dev.deviceId !== undefined) device.push(['id', dev.deviceId]);
  device.push(...mqParts(queues, isVirtioPCI(t, ctx)), ...transportParts(t, ctx));

  const netdev: OptionPart[] = ['tap', ['id', dev.id]];
  if (dev.vhost) {
    netdev.push(['vhost', true]);
    if (dev.vhostFds && dev.vhostFds.length > 0) netdev.push(['vhostfds', dev.vhostFds.join(':')]);
  }
  if (dev.fds && dev.fds.length > 0) {
    netdev.push(['fds', dev.fds.join(':')]);
  } else {
    netdev.push(
      ['ifname', dev.ifname],
      ['script', dev.script ?? 'no'],
      ['downscript', dev.downScript ?? 'no'],
    );
    if (queues > 1) netdev.push(['queues', queues]);
  }
  return ['-device', formatOptions(device), '-netdev', formatOptions(netdev)];
}

function transportOf(driver: NetDevice['driver']): NetDevice['transport'] {
  if (driver.endsWith('-ccw')) return 'ccw';
  if (driver.endsWith('-device')) return 'mmio';
  return 'pci';
}
