import { describe, expect, it } from 'vitest';
import {
  addDeviceToBridge,
  type BridgeState,
  createBridges,
  findDeviceOnBridge,
  PCI_BRIDGE_MAX_CAPACITY,
  removeDeviceFromBridge,
} from '../../src/devices/bridges.js';
import { BridgeDeviceError, BridgeFullError, NoBridgeError } from '../../src/devices/errors.js';

function fill(bridges: BridgeState[], n: number, prefix = 'dev'): BridgeState[] {
  let b = bridges;
  for (let i = 0; i < n; i++) b = addDeviceToBridge(b, `${prefix}${i}`, 'pci').bridges;
  return b;
}

describe('PCI bridge allocator', () => {
  it('creates bridges at root-bus slots from 2 with chassis from 1, as Kata does', () => {
    const b = createBridges(3, 'pci', 'pcie.0');
    expect(b.map((x) => [x.id, x.addr, x.chassis, x.bus])).toEqual([
      ['pci-bridge-0', 2, 1, 'pcie.0'],
      ['pci-bridge-1', 3, 2, 'pcie.0'],
      ['pci-bridge-2', 4, 3, 'pcie.0'],
    ]);
  });

  it('hands out slot 1 first and formats the PCI path as bb/ss in hex', () => {
    const r = addDeviceToBridge(createBridges(1, 'pci', 'pci.0'), 'blk0', 'pci');
    expect(r.slot).toBe(1);
    expect(r.addr).toBe('01');
    expect(r.pciPath).toBe('02/01');
    expect(r.bridge.devices).toEqual({ '1': 'blk0' });
  });

  it('does not modify the bridges it was given', () => {
    const before = createBridges(1, 'pci', 'pci.0');
    addDeviceToBridge(before, 'blk0', 'pci');
    expect(before[0]?.devices).toEqual({});
  });

  it('fills a bridge with 30 devices, then spills into the next bridge', () => {
    const full = fill(createBridges(2, 'pci', 'pci.0'), PCI_BRIDGE_MAX_CAPACITY);
    expect(Object.keys(full[0]?.devices ?? {})).toHaveLength(30);
    const r = addDeviceToBridge(full, 'next', 'pci');
    expect(r.bridge.id).toBe('pci-bridge-1');
    expect(r.pciPath).toBe('03/01');
    expect(fill(createBridges(1, 'pci', 'pci.0'), 12).at(0)?.devices['12']).toBe('dev11');
    expect(addDeviceToBridge(fill(createBridges(1, 'pci', 'pci.0'), 15), 'x', 'pci').pciPath).toBe('02/10');
  });

  it('refuses a device when every slot is taken, with a typed error', () => {
    const full = fill(createBridges(1, 'pci', 'pci.0'), PCI_BRIDGE_MAX_CAPACITY);
    expect(() => addDeviceToBridge(full, 'one-too-many', 'pci')).toThrow(BridgeFullError);
    try {
      addDeviceToBridge(full, 'one-too-many', 'pci');
    } catch (e) {
      expect((e as BridgeFullError).code).toBe('ERR_PLAN_BRIDGE_FULL');
    }
  });

  it('releases a slot and reuses the lowest free slot next', () => {
    let b = fill(createBridges(1, 'pci', 'pci.0'), 5);
    b = removeDeviceFromBridge(b, 'dev2');
    expect(findDeviceOnBridge(b, 'dev2')).toBeUndefined();
    const r = addDeviceToBridge(b, 'again', 'pci');
    expect(r.slot).toBe(3);
    const full = fill(createBridges(1, 'pci', 'pci.0'), PCI_BRIDGE_MAX_CAPACITY);
    const freed = removeDeviceFromBridge(full, 'dev29');
    expect(addDeviceToBridge(freed, 'last', 'pci').slot).toBe(30);
  });

  it('refuses to remove a device that is on no bridge, and a duplicate id', () => {
    const b = fill(createBridges(1, 'pci', 'pci.0'), 1);
    expect(() => removeDeviceFromBridge(b, 'ghost')).toThrow(BridgeDeviceError);
    expect(() => addDeviceToBridge(b, 'dev0', 'pci')).toThrow(BridgeDeviceError);
  });

  it('refuses a device when there is no bridge of that type', () => {
    expect(() => addDeviceToBridge([], 'blk0', 'pci')).toThrow(NoBridgeError);
    expect(() => addDeviceToBridge(createBridges(1, 'pci', 'pci.0'), 'blk0', 'ccw')).toThrow(NoBridgeError);
  });

  it('keeps bridge state JSON-serializable so it can be persisted and reloaded', () => {
    const b = fill(createBridges(2, 'pci', 'pci.0'), 3);
    const reloaded = JSON.parse(JSON.stringify(b)) as BridgeState[];
    expect(addDeviceToBridge(reloaded, 'after-reload', 'pci').slot).toBe(4);
  });
});

describe('CCW addressing on s390x', () => {
  it('numbers devices fe.0.0001, fe.0.0002, ... on subchannel set 0', () => {
    let b = createBridges(1, 'ccw', undefined);
    const first = addDeviceToBridge(b, 'serial0', 'ccw');
    b = first.bridges;
    const second = addDeviceToBridge(b, 'blk0', 'ccw');
    expect(first.devno).toBe('fe.0.0001');
    expect(first.addr).toBe('0001');
    expect(second.devno).toBe('fe.0.0002');
    expect(second.pciPath).toBeUndefined();
  });

  it('puts a second CCW bridge on subchannel set 1', () => {
    const b = createBridges(2, 'ccw', undefined);
    expect(b.map((x) => x.addr)).toEqual([0, 1]);
    expect(b[1]?.bus).toBeUndefined();
  });
});
