// Reattach recovers the operation a dead controller had in flight (state.json's `operation`), against real QEMU:
// a hot plug QEMU completed but the record lacks is rolled back, a backend added without its device is removed,
// a device QEMU no longer has is dropped; the live QEMU wins and the differences are reported.
import { rmSync, truncateSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { attachSandbox, reattachReport } from '../../src/sandbox/attach.js';
import { createSandbox } from '../../src/sandbox/create.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import { readStateFile, writeStateFile } from '../../src/sandbox/state-file.js';
import { descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { freshId, quietLogger, tempRunBase } from './sandbox-fixtures.js';

const g = guest('cloud');
const base = tempRunBase();
const disks = ['a', 'b', 'c'].map((n) => {
  const f = `${base}.${n}.img`;
  writeFileSync(f, '');
  truncateSync(f, 8 * 1024 * 1024);
  return f;
});
const attached: Sandbox[] = [];
afterEach(async () => {
  await Promise.all(attached.splice(0).map((sb) => (sb.detached ? undefined : sb.stop())));
});
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
  for (const d of disks) rmSync(d, { force: true });
});

async function peripheral(sb: Sandbox): Promise<string[]> {
  const list = await sb.qmp?.execute('qom-list', { path: '/machine/peripheral' });
  return (list ?? []).filter((p) => p.type.startsWith('child<')).map((p) => p.name);
}

async function nodes(sb: Sandbox): Promise<string[]> {
  const list = await sb.qmp?.execute('query-named-block-nodes', { flat: true });
  return (list ?? []).flatMap((n) => (n['node-name'] ? [n['node-name']] : []));
}

describe('attachSandbox recovers an interrupted operation', () => {
  it('rolls back a half-done hot plug, removes an orphan backend, and drops a device QEMU no longer has', async () => {
    const sb = await createSandbox(
      { id: freshId('rop'), hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 512 } },
      { runDir: base, logger: quietLogger, accelerator: 'tcg' },
    );
    attached.push(sb);
    await sb.start();
    await sb.hotplug({ kind: 'block', id: 'da', file: disks[0] as string });
    await sb.hotplug({ kind: 'block', id: 'dc', file: disks[2] as string });
    // Behind the record's back, as a controller dying mid-operation would leave QEMU:
    // `db`'s backend added but never its device; `dc` unplugged in QEMU but still in the record.
    const qmp = sb.qmp;
    if (!qmp) throw new Error('no QMP');
    await qmp.execute('blockdev-add', {
      'node-name': 'drive-db',
      driver: 'raw',
      file: { driver: 'file', filename: disks[1] as string },
    });
    await qmp.executeAndWaitFor(
      'device_del',
      { id: 'dc' },
      (e) => e.event === 'DEVICE_DELETED' && e.data.device === 'dc',
      { timeoutMs: 10_000 },
    );
    const handle = await sb.detach();
    const state = readStateFile(handle.runDir);
    const devices = state.devices;
    if (!devices) throw new Error('no record');
    // The record as persisted before `da`'s hot plug was confirmed: da missing, operation in flight.
    writeStateFile(handle.runDir, {
      ...state,
      devices: { ...devices, devices: devices.devices.filter((d) => d.id !== 'da') },
      operation: {
        id: 'op-x',
        kind: 'hotplug',
        op: { kind: 'hotplug', device: { kind: 'block', id: 'da', file: disks[0] } },
        phase: 'applied',
        vmPhase: 'running',
      },
    });
    const sb2 = await attachSandbox(handle, { logger: quietLogger });
    attached.push(sb2);
    const report = reattachReport(sb2);
    expect(report?.recovered).toContain('hotplug of `da` half done: rolled back');
    expect(report?.differences).toContain('device `dc` (hot) is in the record but not in QEMU: dropped');
    expect(sb2.devices().map((d) => d.id)).toEqual([]);
    expect(await peripheral(sb2)).not.toContain('da');
    expect(await nodes(sb2)).not.toContain('drive-da');
    expect(readStateFile(handle.runDir).operation).toBeNull();

    // Second round: an interrupted hot plug of `db` that never reached device_add (its orphan node goes).
    const h2 = await sb2.detach();
    const s2 = readStateFile(h2.runDir);
    writeStateFile(h2.runDir, {
      ...s2,
      operation: {
        id: 'op-y',
        kind: 'hotplug',
        op: { kind: 'hotplug', device: { kind: 'block', id: 'db', file: disks[1] } },
        phase: 'requested',
        vmPhase: 'running',
      },
    });
    const sb3 = await attachSandbox(h2, { logger: quietLogger });
    attached.push(sb3);
    expect(reattachReport(sb3)?.recovered).toContain(
      "hotplug of `db` never reached QEMU's device_add: rolled back",
    );
    expect(await nodes(sb3)).not.toContain('drive-db');
    // Still controllable, and the record works: the same disk plugs again.
    await sb3.hotplug({ kind: 'block', id: 'da', file: disks[0] as string });
    expect(await peripheral(sb3)).toContain('da');
    await sb3.stop();
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });
});
