// vhost-user devices (govmm `VhostUserDevice`): a socket chardev to an external backend
// (virtiofsd, SPDK, a vhost-user switch) plus the front-end device.
import { formatOptions, type OptionPart } from '../escape.js';
import { mqParts } from './net.js';
import { isVirtioPCI, resolveTransport, transportParts, virtioDriver } from './transport.js';
import type { DeviceContext, VhostUserDevice } from './types.js';
import { validateVhostUser } from './validate.js';

/**
 * `-chardev socket,id=...,path=... [-netdev vhost-user,...] -device <front-end>` in govmm's order.
 *
 * QEMU 7.2 choices (vs govmm): vhost-user-blk drops govmm's `logical_block_size=4096,size=512M`
 * (not properties of vhost-user-blk-pci; the backend reports geometry); vhost-user-fs has no
 * `cache-size` (the DAX window never merged upstream — a non-zero `cacheSize` is refused by
 * validation); the netdev uses `vhostforce=on` rather than the bare `vhostforce` flag; the
 * front-end gets `id=<typeDevId>` for fs/blk too, so it can be found and unplugged. The guest
 * memory must be shared (`memory-backend-memfd,share=on`): the plan's job.
 *
 * @example
 * vhostUserArgs({ type: 'vhost-user', vhostType: 'fs', socketPath: '/run/vfs.sock', charDevId: 'char-fs0',
 *   typeDevId: 'fs0', tag: 'kataShared' }, { arch: 'amd64', machineType: 'q35' })
 * // => ['-chardev', 'socket,id=char-fs0,path=/run/vfs.sock',
 * //     '-device', 'vhost-user-fs-pci,chardev=char-fs0,tag=kataShared,id=fs0']
 */
export function vhostUserArgs(dev: VhostUserDevice, ctx: DeviceContext): string[] {
  validateVhostUser(dev, ctx);
  const transport = resolveTransport(dev, ctx);
  const chardev: OptionPart[] = [
    'socket',
    ['id', dev.charDevId],
    dev.socketFd !== undefined ? ['fd', dev.socketFd] : ['path', dev.socketPath!],
  ];
  if (dev.reconnect !== undefined) chardev.push(['reconnect', dev.reconnect]);
  const out = ['-chardev', formatOptions(chardev)];
  const device: OptionPart[] = [];
  switch (dev.vhostType) {
    case 'net': {
      const queues = dev.numQueues ?? 1;
      const netdev: OptionPart[] = [
        'vhost-user',
        ['id', dev.typeDevId!],
        ['chardev', dev.charDevId],
        ['vhostforce', true],
      ];
      if (queues > 1) netdev.push(['queues', queues]);
      out.push('-netdev', formatOptions(netdev));
      device.push(
        virtioDriver('virtio-net', transport),
        ['netdev', dev.typeDevId!],
        ['mac', dev.mac!],
        ...mqParts(queues, isVirtioPCI(dev, ctx)),
      );
      break;
    }
    case 'scsi':
      device.push(
        virtioDriver('vhost-user-scsi', transport),
        ['id', dev.typeDevId!],
        ['chardev', dev.charDevId],
      );
      if (dev.numQueues !== undefined) device.push(['num_queues', dev.numQueues]);
      break;
    case 'blk':
      device.push(virtioDriver('vhost-user-blk', transport), ['chardev', dev.charDevId]);
      if (dev.typeDevId !== undefined) device.push(['id', dev.typeDevId]);
      if (dev.numQueues !== undefined) device.push(['num-queues', dev.numQueues]);
      if (dev.queueSize !== undefined) device.push(['queue-size', dev.queueSize]);
      break;
    case 'fs':
      device.push(virtioDriver('vhost-user-fs', transport), ['chardev', dev.charDevId], ['tag', dev.tag!]);
      if (dev.typeDevId !== undefined) device.push(['id', dev.typeDevId]);
      if (dev.queueSize !== undefined) device.push(['queue-size', dev.queueSize]);
      break;
  }
  device.push(...transportParts(dev, ctx));
  out.push('-device', formatOptions(device));
  return out;
}
