// Validation of char devices and 9p shares: govmm `CharDevice.Valid()` / `SerialDevice.Valid()` / `FSDevice.Valid()`.
import type { CharDevice, DeviceContext, FsDevice, SerialDevice } from './types.js';
import {
  absPath,
  fail,
  fd,
  id,
  nonEmpty,
  oneOf,
  optBool,
  optId,
  optInt,
  socketPath,
  validateContext,
  validateVirtio,
} from './validate-common.js';

/** Backends that take a path. */
const PATH_BACKENDS = ['file', 'pipe', 'serial', 'tty'];

/** govmm `FSDevice.Valid()`: id, path and mount tag set; QEMU's 31-byte 9p tag limit. */
export function validateFs(dev: FsDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  oneOf('fs.fsType', dev.fsType, ['virtio-9p']);
  id('fs.id', dev.id);
  absPath('fs.path', dev.path);
  nonEmpty('fs.mountTag', dev.mountTag);
  if (Buffer.byteLength(dev.mountTag) > 31)
    fail('fs.mountTag', 'at most 31 bytes (QEMU 9p limit)', dev.mountTag);
  if (dev.fsDriver !== undefined) oneOf('fs.fsDriver', dev.fsDriver, ['local']);
  oneOf('fs.securityModel', dev.securityModel, ['none', 'passthrough', 'mapped-xattr', 'mapped-file']);
  if (dev.multidev !== undefined) oneOf('fs.multidev', dev.multidev, ['remap', 'forbid', 'warn']);
  validateVirtio('fs', dev, ctx);
}

/** govmm `CharDevice.Valid()`: id and path set (path-less backends excepted), device id for ports. */
export function validateChar(dev: CharDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  oneOf('char.driver', dev.driver, ['virtconsole', 'virtserialport', 'isa-serial', 'pci-serial', 'serial']);
  oneOf('char.backend', dev.backend, ['socket', 'pty', 'file', 'stdio', 'pipe', 'serial', 'tty', 'null']);
  id('char.id', dev.id);
  if (dev.driver !== 'serial') id('char.deviceId', dev.deviceId);
  if (dev.backend === 'socket') {
    if (dev.fd !== undefined) fd('char.fd', dev.fd);
    else socketPath('char.path', dev.path);
  } else {
    if (dev.fd !== undefined) fail('char.fd', 'absent unless backend is socket', dev.fd);
    if (PATH_BACKENDS.includes(dev.backend)) absPath('char.path', dev.path);
    else if (dev.path !== undefined) fail('char.path', `absent for backend ${dev.backend}`, dev.path);
  }
  optBool('char.server', dev.server);
  if (dev.name !== undefined) {
    if (dev.driver !== 'virtserialport' && dev.driver !== 'virtconsole') {
      fail('char.name', 'absent unless driver is virtserialport or virtconsole', dev.name);
    }
    nonEmpty('char.name', dev.name);
  }
  if (dev.driver === 'isa-serial' && ctx.arch !== 'amd64')
    fail('char.driver', 'isa-serial only on amd64', dev.driver);
  if (dev.driver === 'pci-serial' && ctx.arch === 's390x')
    fail('char.driver', 'pci-serial not on s390x', dev.driver);
  optId('char.bus', dev.bus);
}

/** govmm `SerialDevice.Valid()`: driver and id set. */
export function validateSerial(dev: SerialDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  oneOf('serial.driver', dev.driver, ['virtio-serial']);
  id('serial.id', dev.id);
  optInt('serial.maxPorts', dev.maxPorts, 1, 31);
  validateVirtio('serial', dev, ctx);
}
