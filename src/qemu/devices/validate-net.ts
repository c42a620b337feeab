// Validation of NICs and vhost-user devices: govmm `NetDevice.Valid()` / `VhostUserDevice.Valid()`, plus QEMU 7.2 rules.
import { IFNAME_RE, MAC_RE, MAX_VIRTIOFS_TAG_BYTES } from '../../devices/rules.js';
import type { DeviceContext, NetDevice, VhostUserDevice } from './types.js';
import {
  explicitTransport,
  fail,
  fd,
  fdList,
  id,
  int,
  nonEmpty,
  oneOf,
  optBool,
  optId,
  optInt,
  socketPath,
  validateContext,
  validateVirtio,
} from './validate-common.js';

/**
 * govmm `NetDevice.Valid()`: id and ifname set, type tap or macvtap; plus the fd rules QEMU
 * enforces (vhostfds need fds and vhost, one per queue; macvtap needs fds).
 */
export function validateNet(dev: NetDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  oneOf('net.netType', dev.netType, ['tap', 'macvtap']);
  oneOf('net.driver', dev.driver, ['virtio-net', 'virtio-net-pci', 'virtio-net-ccw', 'virtio-net-device']);
  id('net.id', dev.id);
  optId('net.deviceId', dev.deviceId);
  if (typeof dev.ifname !== 'string' || !IFNAME_RE.test(dev.ifname)) {
    fail('net.ifname', 'an interface name of 1-15 characters [A-Za-z0-9_.-]', dev.ifname);
  }
  if (typeof dev.mac !== 'string' || !MAC_RE.test(dev.mac))
    fail('net.mac', 'a MAC like `52:54:00:12:34:56`', dev.mac);
  optBool('net.vhost', dev.vhost);
  const fds = dev.fds === undefined ? [] : fdList('net.fds', dev.fds);
  const vhostFds = dev.vhostFds === undefined ? [] : fdList('net.vhostFds', dev.vhostFds);
  if (dev.netType === 'macvtap' && fds.length === 0) {
    fail('net.fds', 'the macvtap queue fds (QEMU cannot open a macvtap by name)', dev.fds);
  }
  if (vhostFds.length > 0) {
    if (!dev.vhost) fail('net.vhost', 'true when `vhostFds` are given', dev.vhost);
    if (vhostFds.length !== fds.length)
      fail('net.vhostFds', `one fd per tap fd (${fds.length})`, dev.vhostFds);
    const both = fds.filter((f) => vhostFds.includes(f));
    if (both.length > 0) fail('net.vhostFds', 'fds distinct from `fds`', dev.vhostFds);
  }
  optInt('net.queues', dev.queues, 1, 1024);
  if (fds.length > 0 && dev.queues !== undefined && dev.queues !== fds.length) {
    fail('net.queues', `the number of tap fds (${fds.length}) or absent`, dev.queues);
  }
  if (dev.script !== undefined) nonEmpty('net.script', dev.script);
  if (dev.downScript !== undefined) nonEmpty('net.downScript', dev.downScript);
  const t = dev.driver === 'virtio-net' ? dev : { ...dev, transport: explicitTransport(dev.driver) };
  validateVirtio('net', t, ctx);
}

/**
 * govmm `VhostUserDevice.Valid()`: socket path (or, vmactor, a socket fd) and chardev id set, a type dev id for net/scsi,
 * a MAC for net, a tag for fs; QEMU 7.2 has no vhost-user-fs `cache-size` (DAX).
 */
export function validateVhostUser(dev: VhostUserDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  oneOf('vhost-user.vhostType', dev.vhostType, ['blk', 'scsi', 'net', 'fs']);
  if ((dev.socketPath === undefined) === (dev.socketFd === undefined)) {
    fail('vhost-user.socketPath', 'exactly one of `socketPath` or `socketFd`', dev.socketPath);
  }
  if (dev.socketFd !== undefined) {
    fd('vhost-user.socketFd', dev.socketFd);
    if (dev.reconnect !== undefined)
      fail('vhost-user.reconnect', 'absent with `socketFd` (QEMU cannot reopen an fd)', dev.reconnect);
  } else {
    socketPath('vhost-user.socketPath', dev.socketPath);
  }
  id('vhost-user.charDevId', dev.charDevId);
  if (dev.vhostType === 'net' || dev.vhostType === 'scsi') id('vhost-user.typeDevId', dev.typeDevId);
  else optId('vhost-user.typeDevId', dev.typeDevId);
  optId('vhost-user.deviceId', dev.deviceId);
  if (dev.deviceId !== undefined && dev.vhostType !== 'net') {
    fail('vhost-user.deviceId', 'absent unless vhostType is net (typeDevId is the device id)', dev.deviceId);
  }
  if (dev.vhostType === 'net') {
    if (typeof dev.mac !== 'string' || !MAC_RE.test(dev.mac)) {
      fail('vhost-user.mac', 'a MAC like `52:54:00:12:34:56` for a vhost-user net device', dev.mac);
    }
  } else if (dev.mac !== undefined) {
    fail('vhost-user.mac', 'absent unless vhostType is net', dev.mac);
  }
  if (dev.vhostType === 'fs') {
    nonEmpty('vhost-user.tag', dev.tag);
    if (Buffer.byteLength(dev.tag!) > MAX_VIRTIOFS_TAG_BYTES)
      fail('vhost-user.tag', 'at most 36 bytes (virtio-fs tag)', dev.tag);
  } else if (dev.tag !== undefined) {
    fail('vhost-user.tag', 'absent unless vhostType is fs', dev.tag);
  }
  if (dev.cacheSize !== undefined && dev.cacheSize !== 0) {
    fail(
      'vhost-user.cacheSize',
      '0 or absent (QEMU 7.2 vhost-user-fs has no DAX `cache-size`)',
      dev.cacheSize,
    );
  }
  if (dev.queueSize !== undefined) {
    if (dev.vhostType !== 'fs' && dev.vhostType !== 'blk') {
      fail('vhost-user.queueSize', 'absent unless vhostType is fs or blk', dev.queueSize);
    }
    int('vhost-user.queueSize', dev.queueSize, 1, 1024);
    if ((dev.queueSize & (dev.queueSize - 1)) !== 0) {
      fail('vhost-user.queueSize', 'a power of two up to 1024', dev.queueSize);
    }
  }
  if (dev.numQueues !== undefined) {
    if (dev.vhostType === 'fs') fail('vhost-user.numQueues', 'absent for vhostType fs', dev.numQueues);
    int('vhost-user.numQueues', dev.numQueues, 1, 1024);
  }
  optInt('vhost-user.reconnect', dev.reconnect, 1, 3600);
  validateVirtio('vhost-user', dev, ctx);
}
