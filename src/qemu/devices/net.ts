// Network devices on tap/macvtap backends (govmm `NetDevice`): tap fds, vhost-net fds, multiqueue.
import type { DeviceFd, NetdevAddArgs, QemuObjects } from './objects.js';
import {
  type DeviceProps,
  isVirtioPCI,
  modernProps,
  resolveTransport,
  transportProps,
  virtioDriver,
} from './transport.js';
import type { DeviceContext, NetDevice } from './types.js';
import { validateNet } from './validate-net.js';

/** Queue count of a NIC: one per tap fd, else `queues`, else 1. */
export function netQueues(dev: Pick<NetDevice, 'fds' | 'queues'>): number {
  return dev.fds && dev.fds.length > 0 ? dev.fds.length : (dev.queues ?? 1);
}

/**
 * Multiqueue properties: `mq` plus, on PCI, `vectors = 2*queues+2` (one MSI-X vector per rx and
 * tx queue, plus config and control; linux-kvm.org Multiqueue). govmm emits them whenever fds are
 * passed; vmactor only for more than one queue, where they mean something.
 */
export function mqProps(queues: number, pci: boolean): DeviceProps {
  if (queues <= 1) return {};
  return pci ? { mq: true, vectors: 2 * queues + 2 } : { mq: true };
}

/**
 * `netdev_add tap` + `device_add virtio-net-<transport>` (govmm `NetDevice.QemuParams`, and
 * Kata's qemu.go `hotplugNetDevice` for hot plug). Without fds QEMU opens the tap by `ifname`;
 * `script`/`downscript` default to `no` (govmm omits them, and QEMU would run /etc/qemu-ifup).
 *
 * @example
 * netObjects({ type: 'net', netType: 'tap', driver: 'virtio-net', id: 'net-n0', deviceId: 'n0', ifname: 'tap0',
 *   mac: '52:54:00:00:00:01', fds: [4, 5], vhost: true, vhostFds: [6, 7] }, { arch: 'amd64', machineType: 'q35' })
 * // => { netdevs: [{ type: 'tap', id: 'net-n0', vhost: true, vhostfds: '6:7', fds: '4:5' }],
 * //      device: { driver: 'virtio-net-pci', netdev: 'net-n0', mac: '52:54:00:00:00:01', id: 'n0', mq: true, vectors: 6 }, fds: [...] }
 */
export function netObjects(dev: NetDevice, ctx: DeviceContext): QemuObjects {
  validateNet(dev, ctx);
  const queues = netQueues(dev);
  const driver =
    dev.driver === 'virtio-net' ? virtioDriver('virtio-net', resolveTransport(dev, ctx)) : dev.driver;
  const t = dev.driver === 'virtio-net' ? dev : { ...dev, transport: transportOf(dev.driver) };
  const tapFds: DeviceFd[] = (dev.fds ?? []).map((ref) => ({ ref, purpose: 'tap' }));
  const vhostFds: DeviceFd[] = [];
  let netdev: NetdevAddArgs = { type: 'tap', id: dev.id };
  if (dev.vhost) {
    netdev = { ...netdev, vhost: true };
    if (dev.vhostFds && dev.vhostFds.length > 0) {
      netdev = { ...netdev, vhostfds: dev.vhostFds.join(':') };
      for (const ref of dev.vhostFds) vhostFds.push({ ref, purpose: 'vhost-net' });
    }
  }
  if (dev.fds && dev.fds.length > 0) {
    netdev = { ...netdev, fds: dev.fds.join(':') };
  } else {
    netdev = {
      ...netdev,
      ifname: dev.ifname,
      script: dev.script ?? 'no',
      downscript: dev.downScript ?? 'no',
      ...(queues > 1 ? { queues } : {}),
    };
  }
  const fds = [...tapFds, ...vhostFds];
  return {
    netdevs: [netdev],
    device: {
      driver,
      ...modernProps(t, ctx),
      netdev: dev.id,
      mac: dev.mac,
      ...(dev.deviceId !== undefined ? { id: dev.deviceId } : {}),
      ...mqProps(queues, isVirtioPCI(t, ctx)),
      ...transportProps(t, ctx),
    },
    ...(fds.length > 0 ? { fds } : {}),
  };
}

function transportOf(driver: NetDevice['driver']): NetDevice['transport'] {
  if (driver.endsWith('-ccw')) return 'ccw';
  if (driver.endsWith('-device')) return 'mmio';
  return 'pci';
}
