// vhost-user devices (govmm `VhostUserDevice`): a socket chardev to an external backend
// (virtiofsd, SPDK, a vhost-user switch) plus the front-end device.

import { mqProps } from './net.js';
import type { ChardevArgs, DeviceAddArgs, NetdevAddArgs, QemuObjects } from './objects.js';
import { isVirtioPCI, resolveTransport, transportProps, virtioDriver } from './transport.js';
import type { DeviceContext, VhostUserDevice } from './types.js';
import { validateVhostUser } from './validate-net.js';

/**
 * The client socket chardev to the backend (`chardev-add` shape; Kata's qemu.go
 * `hotplugAddVhostUserBlkDevice`): by path or by an fd QEMU holds; `reconnect` when asked.
 * QEMU 7.2 refuses `wait` on a client socket, so it is left out.
 */
export function vhostUserChardev(dev: VhostUserDevice): ChardevArgs {
  return {
    id: dev.charDevId,
    backend: {
      type: 'socket',
      data: {
        addr:
          dev.socketFd !== undefined
            ? { type: 'fd', data: { str: String(dev.socketFd) } }
            : { type: 'unix', data: { path: dev.socketPath! } },
        server: false,
        ...(dev.reconnect !== undefined ? { reconnect: dev.reconnect } : {}),
      },
    },
  };
}

/**
 * chardev + [`netdev_add vhost-user`] + `device_add <front-end>` (govmm `VhostUserDevice.QemuParams`).
 *
 * QEMU 7.2 choices (vs govmm): vhost-user-blk drops govmm's `logical_block_size=4096,size=512M`
 * (not properties of vhost-user-blk-pci; the backend reports geometry); vhost-user-fs has no
 * `cache-size` (the DAX window never merged upstream — a non-zero `cacheSize` is refused by
 * validation); the netdev uses `vhostforce: true`; the front-end gets `id=<typeDevId>` for fs/blk
 * too, so it can be found and unplugged. The guest memory must be shared
 * (`memory-backend-memfd,share=on`): the plan's job.
 *
 * @example
 * vhostUserObjects({ type: 'vhost-user', vhostType: 'fs', socketPath: '/run/vfs.sock', charDevId: 'char-fs0',
 *   typeDevId: 'fs0', tag: 'kataShared' }, { arch: 'amd64', machineType: 'q35' })
 * // => { chardevs: [{ id: 'char-fs0', backend: { type: 'socket', data: { addr: { type: 'unix', data: { path: '/run/vfs.sock' } }, server: false } } }],
 * //      device: { driver: 'vhost-user-fs-pci', chardev: 'char-fs0', tag: 'kataShared', id: 'fs0' } }
 */
export function vhostUserObjects(dev: VhostUserDevice, ctx: DeviceContext): QemuObjects {
  validateVhostUser(dev, ctx);
  const transport = resolveTransport(dev, ctx);
  const netdevs: NetdevAddArgs[] = [];
  let device: DeviceAddArgs;
  switch (dev.vhostType) {
    case 'net': {
      const queues = dev.numQueues ?? 1;
      netdevs.push({
        type: 'vhost-user',
        id: dev.typeDevId!,
        chardev: dev.charDevId,
        vhostforce: true,
        ...(queues > 1 ? { queues } : {}),
      });
      device = {
        driver: virtioDriver('virtio-net', transport),
        netdev: dev.typeDevId!,
        mac: dev.mac!,
        ...(dev.deviceId !== undefined ? { id: dev.deviceId } : {}),
        ...mqProps(queues, isVirtioPCI(dev, ctx)),
      };
      break;
    }
    case 'scsi':
      device = {
        driver: virtioDriver('vhost-user-scsi', transport),
        id: dev.typeDevId!,
        chardev: dev.charDevId,
        ...(dev.numQueues !== undefined ? { num_queues: dev.numQueues } : {}),
      };
      break;
    case 'blk':
      device = {
        driver: virtioDriver('vhost-user-blk', transport),
        chardev: dev.charDevId,
        ...(dev.typeDevId !== undefined ? { id: dev.typeDevId } : {}),
        ...(dev.numQueues !== undefined ? { 'num-queues': dev.numQueues } : {}),
        ...(dev.queueSize !== undefined ? { 'queue-size': dev.queueSize } : {}),
      };
      break;
    case 'fs':
      device = {
        driver: virtioDriver('vhost-user-fs', transport),
        chardev: dev.charDevId,
        tag: dev.tag!,
        ...(dev.typeDevId !== undefined ? { id: dev.typeDevId } : {}),
        ...(dev.queueSize !== undefined ? { 'queue-size': dev.queueSize } : {}),
      };
      break;
  }
  return {
    chardevs: [vhostUserChardev(dev)],
    ...(netdevs.length > 0 ? { netdevs } : {}),
    device: { ...device, ...transportProps(dev, ctx) },
  };
}
