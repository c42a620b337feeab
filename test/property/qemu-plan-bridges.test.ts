import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addDeviceToBridge,
  type BridgeState,
  createBridges,
  findDeviceOnBridge,
  PCI_BRIDGE_MAX_CAPACITY,
  removeDeviceFromBridge,
} from '../../src/devices/bridges.js';
import { BridgeDeviceError, BridgeFullError } from '../../src/devices/errors.js';

type Op = { add: number } | { remove: number };

const ops = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: 70 }).map((n): Op => ({ add: n })) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 70 }).map((n): Op => ({ remove: n })) },
  ),
  { maxLength: 200 },
);

describe('the bridge slot allocator under any add/remove sequence', () => {
  it('keeps every device on exactly one slot, hands out the lowest free slot, and refuses only when full', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 }), ops, (count, seq) => {
        let bridges: BridgeState[] = createBridges(count, 'pci', 'pci.0');
        const model = new Set<string>();
        for (const op of seq) {
          if ('add' in op) {
            const id = `dev${op.add}`;
            if (model.has(id)) {
              expect(() => addDeviceToBridge(bridges, id, 'pci')).toThrow(BridgeDeviceError);
            } else if (model.size === count * PCI_BRIDGE_MAX_CAPACITY) {
              expect(() => addDeviceToBridge(bridges, id, 'pci')).toThrow(BridgeFullError);
            } else {
              const r = addDeviceToBridge(bridges, id, 'pci');
              // The first bridge with room, its lowest free slot.
              const first = bridges.find((b) => Object.keys(b.devices).length < PCI_BRIDGE_MAX_CAPACITY);
              expect(r.bridge.id).toBe(first?.id);
              const used = new Set(Object.keys(first?.devices ?? {}).map(Number));
              let lowest = 1;
              while (used.has(lowest)) lowest++;
              expect(r.slot).toBe(lowest);
              expect(r.pciPath).toBe(
                `${r.bridge.addr.toString(16).padStart(2, '0')}/${lowest.toString(16).padStart(2, '0')}`,
              );
              bridges = r.bridges;
              model.add(id);
            }
          } else {
            const id = `dev${op.remove}`;
            if (model.has(id)) {
              bridges = removeDeviceFromBridge(bridges, id);
              model.delete(id);
            } else {
              expect(() => removeDeviceFromBridge(bridges, id)).toThrow(BridgeDeviceError);
            }
          }
          const placed = bridges.flatMap((b) => Object.values(b.devices));
          expect(new Set(placed)).toEqual(model);
          expect(placed).toHaveLength(model.size);
          for (const id of model) expect(findDeviceOnBridge(bridges, id)).toBeDefined();
        }
      }),
      { numRuns: 300 },
    );
  });
});
