// Cold and hot plug share one builder: a planned sandbox with a cold-plugged SCSI disk takes a
// second disk through lowerDeviceSpec + buildQemuObjects + hotplugCommands at the next SCSI
// id/LUN after the plan's record, and the undo commands remove it again.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SandboxConfig } from '../../src/config/types.js';
import { scsiIdLun } from '../../src/devices/rules.js';
import { buildQemuObjects, hotplugCommands } from '../../src/qemu/devices/index.js';
import { lowerDeviceSpec } from '../../src/qemu/lower-device.js';
import { planFromConfig } from '../golden/plan/plan-from-config.js';
import { descendants } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { launchWithQmp, syntheticGuest } from './qemu-plan-harness.js';

const root = mkdtempSync(join(tmpdir(), 'vmactor-plan-hotplug-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => expect(descendants()).toEqual([]));

describe('hot plug continues from the plan with the same builder', () => {
  it('hot-plugs a SCSI disk at the LUN after the cold-plugged one, and its undo commands remove it', async () => {
    const runDir = join(root, 'run');
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
    const g = guest() ?? syntheticGuest('amd64', root);
    for (const n of ['cold.img', 'hot.img']) writeFileSync(join(root, n), Buffer.alloc(1 << 20));
    const config: SandboxConfig = {
      id: `hp${process.pid}`,
      hypervisor: {
        kernelPath: g.kernel,
        initrdPath: g.initrd,
        memorySize: 256,
        hypervisorMachineType: 'q35',
        blockDeviceDriver: 'virtio-scsi',
      },
      devices: [{ kind: 'block', id: 'cold0', file: join(root, 'cold.img') }],
    };
    const plan = planFromConfig(config, { runDir, qmpFd: 3, hostCpus: 2, hostMemoryMiB: 4096 });
    const cold = plan.record.devices.find((d) => d.id === 'cold0');
    expect(cold?.placement.scsi).toEqual({ index: 0, scsiId: 0, lun: 0 });

    // The next drive index after the record's, as the hot-plug layer takes it.
    const index = Math.max(...plan.record.devices.map((d) => d.placement.scsi?.index ?? -1)) + 1;
    const hv = {
      arch: 'amd64' as const,
      blockDeviceDriver: 'virtio-scsi' as const,
      blockDeviceCacheSet: false,
      blockDeviceCacheDirect: false,
      blockDeviceCacheNoflush: false,
      disableVhostNet: true,
      entropySource: '/dev/urandom',
      iommuPlatform: false,
    };
    const device = lowerDeviceSpec(
      { kind: 'block', id: 'hot0', file: join(root, 'hot.img'), shareRW: true },
      { bus: 'scsi0.0', scsi: { index, ...scsiIdLun(index) } },
      hv,
      { sandboxId: config.id },
    );
    const commands = hotplugCommands(buildQemuObjects(device, { arch: 'amd64', machineType: 'q35' }));
    expect(commands.map((c) => c.execute)).toEqual(['blockdev-add', 'device_add']);

    const q = await launchWithQmp(plan.argv);
    try {
      for (const c of commands) await q.qmp.execute(c.execute, c.arguments as Record<string, unknown>);
      const lun = (id: string) =>
        q.qmp.execute<number>('qom-get', { path: `/machine/peripheral/${id}`, property: 'lun' });
      expect(await lun('cold0')).toBe(0);
      expect(await lun('hot0')).toBe(1);
      const nodes = async () =>
        (await q.qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true })).map(
          (n) => n['node-name'],
        );
      expect(await nodes()).toEqual(expect.arrayContaining(['drive-cold0', 'drive-hot0']));

      // SCSI unplug needs no guest: DEVICE_DELETED follows device_del, then the node can go.
      const [addNode, addDevice] = commands;
      const deleted = q.qmp.nextEvent('DEVICE_DELETED', { device: 'hot0' });
      await q.qmp.execute(addDevice!.undo!.execute, addDevice!.undo!.arguments as Record<string, unknown>);
      await deleted;
      await q.qmp.execute(addNode!.undo!.execute, addNode!.undo!.arguments as Record<string, unknown>);
      const peripheral = await q.qmp.execute<{ name: string }[]>('qom-list', { path: '/machine/peripheral' });
      expect(peripheral.map((p) => p.name)).not.toContain('hot0');
      expect(await nodes()).not.toContain('drive-hot0');
      expect(await nodes()).toContain('drive-cold0');
    } finally {
      await q.kill();
    }
  });
});
