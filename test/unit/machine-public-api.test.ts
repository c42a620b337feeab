// The pure parts of the public API over the machine: what the machine emits as the one SandboxEvent
// stream, the input checks before an operation is queued, and capabilities from a config.
import { describe, expect, it } from 'vitest';
import type { OperationEmitted, SandboxEmitted } from '../../machines/sandbox.types.js';
import { validateConfig } from '../../src/config/validate.js';
import { capabilitiesOf } from '../../src/sandbox/capabilities.js';
import {
  DuplicateOperationError,
  OperationAbortedError,
  OperationCapacityError,
  OperationNotActiveError,
  SandboxInputError,
} from '../../src/sandbox/errors.js';
import { publicEventsOf } from '../../src/sandbox/events.js';
import { checkOperation } from '../../src/sandbox/operations.js';

const at = 1_700_000_000_000;
const plug: OperationEmitted = {
  type: 'operation',
  sandboxId: 'sb',
  id: 'op-1',
  op: { kind: 'hotplug', device: { kind: 'block', id: 'd1', file: '/d1.img' } },
  phase: 'confirmed',
  result: { kind: 'hotplug', id: 'd1', placement: { bus: 'scsi0.0', scsi: { index: 1, scsiId: 0, lun: 1 } } },
  at,
};

function failed(code: string): SandboxEmitted {
  return { ...plug, phase: 'failed', result: undefined, error: { code, message: `refused: ${code}` } };
}

describe('the public event stream', () => {
  it('passes lifecycle and command-failed events through unchanged', () => {
    const life: SandboxEmitted = { type: 'lifecycle', sandboxId: 'sb', from: 'starting', to: 'running', at };
    expect(publicEventsOf(life)).toEqual([life]);
    const cmd: SandboxEmitted = { type: 'command-failed', sandboxId: 'sb', command: 'pause', error: 'x', at };
    expect(publicEventsOf(cmd)).toEqual([cmd]);
  });

  it('a confirmed hot plug is its operation event with its kind, then the device plugged with its placement', () => {
    expect(publicEventsOf(plug)).toEqual([
      { ...plug, kind: 'hotplug' },
      {
        type: 'device',
        sandboxId: 'sb',
        change: 'plugged',
        deviceId: 'd1',
        placement: { bus: 'scsi0.0', scsi: { index: 1, scsiId: 0, lun: 1 } },
        operationId: 'op-1',
        at,
      },
    ]);
  });

  it('a confirmed unplug yields unplugged only once the device was removed; DEVICE_DELETED is a deleted device event', () => {
    const unplug: OperationEmitted = {
      ...plug,
      op: { kind: 'unplug', id: 'd1' },
      result: { kind: 'unplug', id: 'd1', removed: true, pending: false },
    };
    expect(publicEventsOf(unplug).map((e) => e.type === 'device' && e.change)).toEqual([false, 'unplugged']);
    const pending = { ...unplug, result: { kind: 'unplug', id: 'd1', removed: false, pending: true } };
    expect(publicEventsOf(pending)).toHaveLength(1);
    expect(
      publicEventsOf({
        type: 'device-deleted',
        sandboxId: 'sb',
        device: 'd1',
        path: '/machine/peripheral/d1',
        at,
      }),
    ).toEqual([
      {
        type: 'device',
        sandboxId: 'sb',
        change: 'deleted',
        deviceId: 'd1',
        path: '/machine/peripheral/d1',
        at,
      },
    ]);
  });

  it("turns each machine refusal into its own class with one code, and keeps an operation's own Error", () => {
    const classes = [
      ['ERR_SANDBOX_NOT_ACTIVE', OperationNotActiveError, 'ERR_OPERATION_NOT_ACTIVE'],
      ['ERR_NO_CAPACITY', OperationCapacityError, 'ERR_OPERATION_NO_CAPACITY'],
      ['ERR_OPERATION_ABORTED', OperationAbortedError, 'ERR_OPERATION_ABORTED'],
      ['ERR_DUPLICATE_ID', DuplicateOperationError, 'ERR_OPERATION_DUPLICATE_ID'],
    ] as const;
    for (const [refusal, cls, code] of classes) {
      const [e] = publicEventsOf(failed(refusal));
      expect(e?.type === 'operation' && e.error).toBeInstanceOf(cls);
      expect(e).toMatchObject({
        phase: 'failed',
        error: { code, operationId: 'op-1', message: `refused: ${refusal}` },
      });
      // Exactly one code: no other `ERR_…` string rides along (no nested reason).
      const own = Object.values(e?.type === 'operation' ? (e.error ?? {}) : {});
      expect(own.filter((v) => typeof v === 'string' && v.startsWith('ERR_'))).toEqual([code]);
    }
    const own = new Error('device_add failed');
    const [e] = publicEventsOf({ ...plug, phase: 'failed', result: undefined, error: own });
    expect(e).toMatchObject({ type: 'operation', phase: 'failed', error: own });
    expect(publicEventsOf({ ...plug, phase: 'failed', result: undefined, error: own })).toHaveLength(1);
  });
});

describe('operation input checks', () => {
  it('lists every problem of a hot-plugged DeviceSpec in the words config devices get, with paths under `device`', () => {
    let err: unknown;
    try {
      checkOperation({
        kind: 'hotplug',
        device: { kind: 'block', id: '9x', file: 'rel.img', bogus: 1 } as never,
        guestDeadlineMs: -5,
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SandboxInputError);
    const issues = (err as SandboxInputError).issues;
    expect(issues.map((i) => i.path)).toEqual([
      'guestDeadlineMs',
      'device.id',
      'device.file',
      'device.bogus',
    ]);
    expect(issues[2]?.message).toBe('Expected `device.file` to be an absolute path, got `"rel.img"`');
    expect(issues[3]?.message).toMatch(/^Unknown key `device.bogus`; known keys: kind, id, file, /);
  });

  it('names the kinds when the device kind is unknown, and a missing field as got nothing', () => {
    const issues = (op: unknown) => {
      try {
        checkOperation({ kind: 'hotplug', device: op as never });
        return [];
      } catch (e) {
        return (e as SandboxInputError).issues.map((i) => i.message);
      }
    };
    expect(issues({ kind: 'floppy', id: 'f' })[0]).toMatch(
      /^Expected `device.kind` to be one of `block`, `net`, .*got `"floppy"`$/,
    );
    expect(issues({ kind: 'block', id: 'd1' })).toEqual(['Expected `device.file` to be set, got nothing']);
  });

  it('returns the parsed op when it is valid, and checks ids, sizes and counts of the other kinds', () => {
    const op = checkOperation({ kind: 'hotplug', device: { kind: 'vfio', id: 'v', bdf: '0000:01:00.0' } });
    expect(op).toEqual({ kind: 'hotplug', device: { kind: 'vfio', id: 'v', bdf: '0000:01:00.0' } });
    expect(() => checkOperation({ kind: 'unplug', id: 'has space' })).toThrow(SandboxInputError);
    expect(() => checkOperation({ kind: 'resize-memory', mib: 1.5 })).toThrow(
      'Expected `mib` to be a positive integer, got `1.5`',
    );
    expect(() => checkOperation({ kind: 'resize-vcpus', count: -1 })).toThrow(SandboxInputError);
    expect(checkOperation({ kind: 'resize-vcpus', count: 0 })).toEqual({ kind: 'resize-vcpus', count: 0 });
    expect(checkOperation({ kind: 'resize-vcpus', count: 2 })).toEqual({ kind: 'resize-vcpus', count: 2 });
  });
});

describe('capabilities from the config (Kata qemu.go capabilities())', () => {
  const HOST = { hostCpus: 8, hostMemoryMiB: 16384, arch: 'amd64' as const };
  const hv = (h: Record<string, unknown> = {}) =>
    validateConfig({ id: 'sb', hypervisor: { kernelPath: '/k', initrdPath: '/i', ...h } }, HOST).hypervisor;

  it('q35 has block and NIC hot plug and multiqueue; fs sharing follows sharedFS; vCPU hot plug follows max vCPUs', () => {
    expect(capabilitiesOf(hv({ sharedFS: 'virtio-fs', defaultMaxVCPUs: 4 }))).toEqual({
      blockDevice: true,
      blockDeviceHotplug: true,
      networkDeviceHotplug: true,
      multiQueue: true,
      fsSharing: true,
      memoryHotplug: true,
      vcpuHotplug: true,
    });
    expect(capabilitiesOf(hv({ sharedFS: 'none', defaultMaxVCPUs: 1 }))).toMatchObject({
      fsSharing: false,
      vcpuHotplug: false,
    });
  });

  it('pc has no block or NIC hot plug, and disableBlockDeviceUse turns disks off', () => {
    expect(capabilitiesOf(hv({ hypervisorMachineType: 'pc' }))).toMatchObject({
      blockDeviceHotplug: false,
      networkDeviceHotplug: false,
      multiQueue: true,
    });
    expect(capabilitiesOf(hv({ disableBlockDeviceUse: true }))).toMatchObject({
      blockDevice: false,
      blockDeviceHotplug: false,
    });
  });
});
