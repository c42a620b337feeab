// vhost-vsock (govmm `VSOCKDevice`): the guest's AF_VSOCK endpoint, Kata's agent channel.
import { formatOptions, type OptionPart } from '../escape.js';
import { modernParts, resolveTransport, transportParts, virtioDriver } from './transport.js';
import type { DeviceContext, VsockDevice } from './types.js';
import { validateVsock } from './validate.js';

export { MAX_GUEST_CID, MIN_GUEST_CID } from './validate.js';

/**
 * `-device vhost-vsock-<transport>[,vhostfd=N],id=...,guest-cid=N` in govmm's order. Needs
 * /dev/vhost-vsock on the host; without it QEMU refuses (see `classifyQemuStartError`).
 *
 * @example
 * vsockArgs({ type: 'vsock', id: 'vsock-1', contextId: 3, vhostFd: 4 }, { arch: 'amd64', machineType: 'q35' })
 * // => ['-device', 'vhost-vsock-pci,vhostfd=4,id=vsock-1,guest-cid=3']
 */
export function vsockArgs(dev: VsockDevice, ctx: DeviceContext): string[] {
  validateVsock(dev, ctx);
  const device: OptionPart[] = [
    virtioDriver('vhost-vsock', resolveTransport(dev, ctx)),
    ...modernParts(dev, ctx),
  ];
  if (dev.vhostFd !== undefined) device.push(['vhostfd', dev.vhostFd]);
  device.push(['id', dev.id], ['guest-cid', dev.contextId], ...transportParts(dev, ctx));
  return ['-device', formatOptions(device)];
}
