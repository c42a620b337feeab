// Hot-plug through the Sandbox handle and its XState machine: the provider from src/hotplug plugged
// into `openSandbox`, operation phase events, capacity guard, rollback, STOP pre-empting.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { OperationEmitted } from '../../machines/sandbox.types.js';
import { createHotplugProvider, HotplugRefusedError } from '../../src/hotplug/index.js';
import { createBridges } from '../../src/qemu/bridges.js';
import { openSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { descendants, leftovers } from '../helpers/census.js';
import { QEMU } from '../helpers/env.js';
import { testConfig } from './hotplug-harness.js';
import { bareSpec, quietLogger, tempRunBase } from './sandbox-fixtures.js';

const sandboxes: Sandbox[] = [];
afterEach(async () => {
  for (const sb of sandboxes.splice(0)) await sb.stop();
});

const EXTRA = [
  '-device',
  'pci-bridge,bus=pcie.0,id=pci-bridge-0,chassis_nr=1,shpc=on,addr=2',
  '-device',
  'virtio-scsi-pci,id=scsi0,bus=pcie.0,addr=0x8',
];

async function started(config = testConfig()) {
  const base = tempRunBase();
  const hotplug = createHotplugProvider({
    config,
    bridges: createBridges(1, 'pci', 'pcie.0'),
    limits: { maxMemMiB: 128, hostMemMiB: 1_000_000, bootMemoryMiB: 128 },
  });
  const sb = openSandbox(bareSpec(QEMU as string, { frozen: true, extra: EXTRA }), {
    runDir: base,
    logger: quietLogger,
    operations: hotplug,
  });
  sandboxes.push(sb);
  const events: OperationEmitted[] = [];
  sb.actor.on('operation', (e) => events.push(e));
  await sb.start();
  return { sb, hotplug, events, base };
}

describe('hot-plug through the sandbox machine', () => {
  it('runs a disk hot-plug as an OPERATION with requested, applied and confirmed phases and the provider result', async () => {
    const { sb, hotplug, events, base } = await started();
    const file = join(base, 'disk.img');
    await writeFile(file, Buffer.alloc(1024 * 1024));
    const r = await sb.operate({ kind: 'hotplug-block', id: 'disk1', file }, { id: 'op1' });
    expect(r).toEqual({
      kind: 'hotplug-block',
      id: 'disk1',
      driver: 'virtio-blk',
      pciPath: '02/01',
      confirmedBy: 'qemu',
    });
    expect(events.map((e) => [e.id, e.phase])).toEqual([
      ['op1', 'requested'],
      ['op1', 'applied'],
      ['op1', 'confirmed'],
    ]);
    expect(hotplug.state.device('disk1')?.pciPath).toBe('02/01');
    // SCSI unplug completes without a guest: DEVICE_DELETED arrives, the node and record go.
    await sb.operate({ kind: 'hotplug-block', id: 'sd1', file, driver: 'virtio-scsi' });
    expect(await sb.operate({ kind: 'unplug', id: 'sd1' })).toEqual({
      kind: 'unplug',
      id: 'sd1',
      removed: true,
      pending: false,
    });
    expect(hotplug.state.devices.map((d) => d.id)).toEqual(['disk1']);
  });

  it('emits failed then rolled-back when QEMU refuses a step, and the machine refuses what the capacity guard rejects', async () => {
    const { sb, events, base } = await started();
    const file = join(base, 'disk.img');
    await writeFile(file, Buffer.alloc(1024 * 1024));
    const err = await sb
      .operate({ kind: 'hotplug-block', id: 'scsi0', file }, { id: 'dup' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HotplugRefusedError);
    expect(events.filter((e) => e.id === 'dup').map((e) => e.phase)).toEqual([
      'requested',
      'failed',
      'rolled-back',
    ]);
    const full = await sb
      .operate({ kind: 'hotplug-memory', mib: 128 }, { id: 'mem' })
      .catch((e: unknown) => e);
    expect(full).toMatchObject({ code: 'ERR_OPERATION_NO_CAPACITY' });
    expect(events.filter((e) => e.id === 'mem').map((e) => e.phase)).toEqual(['requested', 'failed']);
    expect(sb.phase).toBe('running');
  });

  it('lets STOP pre-empt a queued burst of hot-plugs and leaves no process or file behind', async () => {
    const { sb, base } = await started();
    const file = join(base, 'disk.img');
    await writeFile(file, Buffer.alloc(1024 * 1024));
    const ops = Array.from({ length: 5 }, (_, i) =>
      sb.operate({ kind: 'hotplug-block', id: `b${i}`, file }).then(
        () => 'ok' as const,
        (e: unknown) => e,
      ),
    );
    const stopped = sb.stop();
    const outcomes = await Promise.all(ops);
    expect((await stopped).stopReason).toBe('requested');
    for (const o of outcomes) {
      if (o !== 'ok')
        // The machine abandons queued ones (ERR_OPERATION_ABORTED); the running one is pre-empted by its signal.
        expect(o).toMatchObject({ code: expect.stringMatching(/ERR_OPERATION_ABORTED|ERR_HOTPLUG_ABORTED/) });
    }
    expect(outcomes.some((o) => o !== 'ok')).toBe(true);
    expect(descendants()).toEqual([]);
    expect(leftovers(sb.runDir)).toEqual([]);
  });
});
