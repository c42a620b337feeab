// vhost-vsock (govmm `VSOCKDevice`): the guest's AF_VSOCK endpoint, Kata's agent channel.
import type { QemuObjects } from './objects.js';
import { modernProps, resolveTransport, transportProps, virtioDriver } from './transport.js';
import type { DeviceContext, VsockDevice } from './types.js';
import { validateVsock } from './validate-misc.js';

/**
 * `device_add vhost-vsock-<transport>[,vhostfd=N],id=...,guest-cid=N` in govmm's order (`vhostfd`
 * is a string property: an fd number or a monitor fd name). Needs /dev/vhost-vsock on the host;
 * without it QEMU refuses (see `classifyQemuStartError`).
 *
 * @example
 * vsockObjects({ type: 'vsock', id: 'vsock-1', contextId: 3, vhostFd: 4 }, { arch: 'amd64', machineType: 'q35' })
 * // => { device: { driver: 'vhost-vsock-pci', vhostfd: '4', id: 'vsock-1', 'guest-cid': 3 }, fds: [{ ref: 4, purpose: 'vhost-vsock' }] }
 */
export function vsockObjects(dev: VsockDevice, ctx: DeviceContext): QemuObjects {
  validateVsock(dev, ctx);
  return {
    device: {
      driver: virtioDriver('vhost-vsock', resolveTransport(dev, ctx)),
      ...modernProps(dev, ctx),
      ...(dev.vhostFd !== undefined ? { vhostfd: String(dev.vhostFd) } : {}),
      id: dev.id,
      'guest-cid': dev.contextId,
      ...transportProps(dev, ctx),
    },
    ...(dev.vhostFd !== undefined ? { fds: [{ ref: dev.vhostFd, purpose: 'vhost-vsock' as const }] } : {}),
  };
}
