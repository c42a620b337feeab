// reconcileRecord (pure): the live QEMU wins over the persisted device record; every difference is named.
import { describe, expect, it } from 'vitest';
import type { DeviceRecordData } from '../../src/devices/record-types.js';
import { type LiveDevices, plannedIds, reconcileRecord } from '../../src/sandbox/attach-reconcile.js';

const record: DeviceRecordData = {
  version: 1,
  devices: [
    {
      id: 'disk1',
      origin: 'hot',
      spec: { kind: 'block', id: 'disk1', file: '/d1.img' } as DeviceRecordData['devices'][number]['spec'],
      placement: { bus: 'pci-bridge-0', addr: '01', bridgeSlot: true },
      backends: { node: 'drive-disk1' },
    },
    {
      id: 'disk2',
      origin: 'hot',
      spec: { kind: 'block', id: 'disk2', file: '/d2.img' } as DeviceRecordData['devices'][number]['spec'],
      placement: { bus: 'pci-bridge-0', addr: '02', bridgeSlot: true },
      backends: { node: 'drive-disk2' },
    },
  ],
  bridges: [
    {
      id: 'pci-bridge-0',
      type: 'pci',
      bus: 'pcie.0',
      addr: 2,
      chassis: 1,
      maxCapacity: 30,
      devices: { '1': 'disk1', '2': 'disk2' },
    },
  ],
  rootPorts: {},
  vcpus: [{ id: 'cpu-0', props: { 'socket-id': 1, 'core-id': 0, 'thread-id': 0 } }],
  nextVcpu: 1,
  dimms: [{ id: 'dimmmem0', backendId: 'mem0', slot: 0, sizeMiB: 256 }],
  hotpluggedMemoryMiB: 256,
  virtioMem: null,
};

function live(over: Partial<LiveDevices>): LiveDevices {
  return {
    ids: new Set(['disk1', 'disk2', 'cpu-0', 'dimmmem0', 'pci-bridge-0']),
    blockNodes: new Set(['drive-disk1', 'drive-disk2']),
    vcpus: record.vcpus,
    dimms: record.dimms,
    ...over,
  };
}

describe('reconcileRecord', () => {
  it('changes nothing when QEMU has exactly what the record says', () => {
    const r = reconcileRecord(record, live({}), []);
    expect(r.differences).toEqual([]);
    expect(r.record).toEqual(record);
  });

  it('drops a device QEMU does not have and frees its bridge slot', () => {
    const r = reconcileRecord(record, live({ ids: new Set(['disk1', 'cpu-0', 'dimmmem0']) }), []);
    expect(r.record.devices.map((d) => d.id)).toEqual(['disk1']);
    expect(r.record.bridges[0]?.devices).toEqual({ '1': 'disk1' });
    expect(r.differences).toEqual(['device `disk2` (hot) is in the record but not in QEMU: dropped']);
  });

  it('takes vCPUs and DIMMs from QEMU, and recomputes the hot-plugged memory', () => {
    const r = reconcileRecord(
      record,
      live({
        ids: new Set(['disk1', 'disk2', 'cpu-3', 'dimmmem1']),
        vcpus: [{ id: 'cpu-3', props: { 'socket-id': 1 } }],
        dimms: [{ id: 'dimmmem1', backendId: 'mem1', slot: 1, sizeMiB: 512 }],
      }),
      [],
    );
    expect(r.record.vcpus.map((v) => v.id)).toEqual(['cpu-3']);
    expect(r.record.nextVcpu).toBe(4);
    expect(r.record.dimms.map((d) => d.id)).toEqual(['dimmmem1']);
    expect(r.record.hotpluggedMemoryMiB).toBe(512);
    expect(r.differences).toHaveLength(4);
  });

  it('reports a device nobody knows, but not what the command line created', () => {
    const argv = [
      '-device',
      '{"driver":"virtio-scsi-pci","id":"scsi0"}',
      '-device',
      'pcie-root-port,id=rp0,bus=pcie.0',
    ];
    expect(plannedIds(argv)).toEqual(new Set(['scsi0', 'rp0']));
    const ids = new Set([...live({}).ids, 'scsi0', 'rp0', 'stranger']);
    const r = reconcileRecord(record, live({ ids }), argv);
    expect(r.differences).toEqual([
      'device `stranger` is in QEMU but neither in the record nor on the command line',
    ]);
  });

  it('names a device whose block node is not attached', () => {
    const r = reconcileRecord(record, live({ blockNodes: new Set(['drive-disk1']) }), []);
    expect(r.differences).toEqual(["device `disk2`'s block node `drive-disk2` is not attached in QEMU"]);
  });
});
