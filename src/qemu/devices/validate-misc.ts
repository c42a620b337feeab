// Validation of vsock, rng, balloon, loader and pvpanic devices (govmm `Valid()` of each).
import { MAX_GUEST_CID, MIN_GUEST_CID } from '../../devices/rules.js';
import type {
  BalloonDevice,
  DeviceContext,
  LoaderDevice,
  PvpanicDevice,
  RngDevice,
  VsockDevice,
} from './types.js';
import {
  absPath,
  fail,
  fd,
  id,
  int,
  optBool,
  optId,
  optInt,
  validateContext,
  validateVirtio,
} from './validate-common.js';

/** govmm `VSOCKDevice.Valid()`: id set, guest CID in 3..0xffffffff. */
export function validateVsock(dev: VsockDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  id('vsock.id', dev.id);
  int('vsock.contextId', dev.contextId, MIN_GUEST_CID, MAX_GUEST_CID);
  if (dev.vhostFd !== undefined) fd('vsock.vhostFd', dev.vhostFd);
  validateVirtio('vsock', dev, ctx);
}

/** govmm `RngDevice.Valid()`: id set. */
export function validateRng(dev: RngDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  id('rng.id', dev.id);
  optId('rng.deviceId', dev.deviceId);
  if (dev.filename !== undefined) absPath('rng.filename', dev.filename);
  optInt('rng.maxBytes', dev.maxBytes, 1, Number.MAX_SAFE_INTEGER);
  optInt('rng.period', dev.period, 1, 0xffff_ffff);
  validateVirtio('rng', dev, ctx);
}

/** govmm `BalloonDevice.Valid()`: id set. */
export function validateBalloon(dev: BalloonDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  id('balloon.id', dev.id);
  optBool('balloon.deflateOnOOM', dev.deflateOnOOM);
  optBool('balloon.freePageReporting', dev.freePageReporting);
  validateVirtio('balloon', dev, ctx);
}

/** govmm `LoaderDevice.Valid()`: file and id set. */
export function validateLoader(dev: LoaderDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  id('loader.id', dev.id);
  absPath('loader.file', dev.file);
}

/** govmm `PVPanicDevice.Valid()` (always true there); vmactor: no pvpanic on s390x. */
export function validatePvpanic(dev: PvpanicDevice, ctx: DeviceContext): void {
  validateContext(ctx);
  if (ctx.arch === 's390x') fail('ctx.arch', 'an arch with pvpanic (not s390x)', ctx.arch);
  optId('pvpanic.id', dev.id);
  optBool('pvpanic.noShutdown', dev.noShutdown);
}
