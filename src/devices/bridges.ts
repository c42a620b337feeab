// PCI/PCIe/CCW bridge slot allocator (Kata's addDeviceToBridge/removeDeviceFromBridge), immutable.

import { BridgeDeviceError, BridgeFullError, NoBridgeError } from './errors.js';
import type { BridgeEntry } from './record-types.js';

/** Kind of bridge: a PCI-PCI bridge, a PCIe-PCI bridge, or s390x's channel subsystem. */
export type BridgeType = 'pci' | 'pcie' | 'ccw';

/** Slots per PCI/PCIe bridge Kata hands out (1..30). */
export const PCI_BRIDGE_MAX_CAPACITY = 30;
/** Device numbers per CCW subchannel set Kata hands out (1..0xffff). */
export const CCW_BRIDGE_MAX_CAPACITY = 0xffff;
/** Root-bus slot of the first bridge: x86 uses 0 and 1 for the platform, ARM reserves 0. */
export const BRIDGE_PCI_START_ADDR = 2;
/** Kata's limit on `default_bridges`. */
export const MAX_BRIDGES = 5;

/**
 * One bridge and the devices plugged into it: JSON-serializable, persisted with the sandbox. The
 * same type as the device record's `BridgeEntry` (src/devices/record-types.ts).
 */
export type BridgeState = BridgeEntry;

/** Where `addDeviceToBridge` put a device. */
export interface BridgeSlot {
  /** The bridges after the allocation (the input is not modified). */
  readonly bridges: BridgeState[];
  readonly bridge: BridgeState;
  /** Slot number on the bridge (PCI) or device number (CCW). */
  readonly slot: number;
  /** Kata's address string: `%02x` slot for PCI, `%04x` devno for CCW. */
  readonly addr: string;
  /** PCI path `bb/ss` (bridge slot on the root bus / device slot on the bridge), PCI only. */
  readonly pciPath?: string;
  /** CCW device number `fe.<ssid>.<devno>`, CCW only. */
  readonly devno?: string;
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/**
 * Creates `count` bridges of `type` on `rootBus` (Kata's genericBridges + appendBridges): PCI
 * bridges at root-bus slots 2, 3, … with chassis 1, 2, …; CCW "bridges" are subchannel sets 0, 1, ….
 *
 * @example
 * createBridges(1, 'pci', 'pcie.0') // => [{ id: 'pci-bridge-0', addr: 2, chassis: 1, bus: 'pcie.0', ... }]
 */
export function createBridges(count: number, type: BridgeType, rootBus: string | undefined): BridgeState[] {
  const out: BridgeState[] = [];
  for (let i = 0; i < count; i++) {
    out.push({
      id: `${type}-bridge-${i}`,
      type,
      bus: type === 'ccw' ? undefined : rootBus,
      addr: type === 'ccw' ? i : BRIDGE_PCI_START_ADDR + i,
      chassis: i + 1,
      maxCapacity: type === 'ccw' ? CCW_BRIDGE_MAX_CAPACITY : PCI_BRIDGE_MAX_CAPACITY,
      devices: {},
    });
  }
  return out;
}

/** PCI path of a device on a bridge: `bb/ss` in hex, as Kata's `types.PciPath` formats it. */
export function pciPath(bridge: BridgeState, slot: number): string {
  return `${hex(bridge.addr, 2)}/${hex(slot, 2)}`;
}

/** CCW device number of a device on a subchannel set: `fe.<ssid>.<devno>`. */
export function ccwDevno(bridge: BridgeState, slot: number): string {
  return `fe.${bridge.addr.toString(16)}.${hex(slot, 4)}`;
}

/** The bridge (and slot) holding `deviceId`, if any. */
export function findDeviceOnBridge(
  bridges: readonly BridgeState[],
  deviceId: string,
): { bridge: BridgeState; slot: number } | undefined {
  for (const bridge of bridges) {
    for (const [slot, id] of Object.entries(bridge.devices)) {
      if (id === deviceId) return { bridge, slot: Number(slot) };
    }
  }
  return undefined;
}

/**
 * Puts `deviceId` into the first free slot (from 1) of the first bridge of `type` that has one.
 * No bridge of that type → `NoBridgeError`; all full → `BridgeFullError`; id already present →
 * `BridgeDeviceError`.
 *
 * @example
 * const { bridges, pciPath } = addDeviceToBridge(createBridges(1, 'pci', 'pci.0'), 'blk0', 'pci');
 * // pciPath === '02/01'
 */
export function addDeviceToBridge(
  bridges: readonly BridgeState[],
  deviceId: string,
  type: BridgeType,
): BridgeSlot {
  if (findDeviceOnBridge(bridges, deviceId)) {
    throw new BridgeDeviceError(
      `Expected device id \`${deviceId}\` to be new, but it is already on a bridge`,
    );
  }
  const candidates = bridges.filter((b) => b.type === type);
  if (candidates.length === 0) {
    throw new NoBridgeError(`Expected a ${type} bridge to plug \`${deviceId}\` into, but there is none`);
  }
  for (const bridge of candidates) {
    for (let slot = 1; slot <= bridge.maxCapacity; slot++) {
      if (bridge.devices[String(slot)] !== undefined) continue;
      const updated: BridgeState = { ...bridge, devices: { ...bridge.devices, [String(slot)]: deviceId } };
      const next = bridges.map((b) => (b === bridge ? updated : b));
      return type === 'ccw'
        ? { bridges: next, bridge: updated, slot, addr: hex(slot, 4), devno: ccwDevno(updated, slot) }
        : { bridges: next, bridge: updated, slot, addr: hex(slot, 2), pciPath: pciPath(updated, slot) };
    }
  }
  throw new BridgeFullError(
    `Expected a free slot on a ${type} bridge for \`${deviceId}\`: no more bridge slots available`,
  );
}

/**
 * Frees the slot holding `deviceId`; not on any bridge → `BridgeDeviceError`.
 *
 * @example
 * removeDeviceFromBridge(bridges, 'blk0')
 */
export function removeDeviceFromBridge(bridges: readonly BridgeState[], deviceId: string): BridgeState[] {
  const found = findDeviceOnBridge(bridges, deviceId);
  if (!found) throw new BridgeDeviceError(`Expected device \`${deviceId}\` to be on a bridge, but it is not`);
  const devices = { ...found.bridge.devices };
  delete devices[String(found.slot)];
  return bridges.map((b) => (b === found.bridge ? { ...b, devices } : b));
}
