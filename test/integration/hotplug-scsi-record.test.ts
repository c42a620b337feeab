// Cold and hot plug share one device record: a sandbox with a cold-plugged virtio-scsi disk hot-plugs
// two more with scsi-id/LUN distinct from it (read back through QOM), unplugs the cold-plugged one,
// and the default guest's agent sees each step; on a paused sandbox, SCSI disks plugged and unplugged
// back to back leave no block node behind (QEMU frees the node a moment after the device goes).
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SandboxConfig } from '../../src/config/types.js';
import type { HotplugResult } from '../../src/hotplug/index.js';
import { descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { createTracked, freshId, quietLogger, stopAll, tempRunBase } from './sandbox-fixtures.js';

const g = guest('cloud');
const base = tempRunBase();
const files = mkdtempSync('/tmp/vmactor-hp-scsi-');
afterEach(stopAll);
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
  rmSync(files, { recursive: true, force: true });
});

const MiB = 1024 * 1024;
function image(name: string, mib: number): string {
  const file = join(files, name);
  writeFileSync(file, '');
  truncateSync(file, mib * MiB);
  return file;
}

describe('hot plug next to cold-plugged virtio-scsi disks', () => {
  it('gives two hot-plugged SCSI disks scsi-id/LUN distinct from the cold-plugged one, unplugs the cold one, and the guest sees all of it', async () => {
    const config: SandboxConfig = {
      id: freshId('hpscsi'),
      hypervisor: {
        kernelPath: g.kernel,
        initrdPath: g.initrd,
        memorySize: 512,
        blockDeviceDriver: 'virtio-scsi',
      },
      devices: [{ kind: 'block', id: 'd0', file: image('d0.img', 8), driver: 'virtio-scsi' }],
    };
    const sb = await createTracked(config, {
      runDir: base,
      logger: quietLogger,
      accelerator: 'tcg',
      guestAgent: true,
    });
    await sb.start();
    const agent = await sb.agent();
    await agent.waitReady({ timeout: 60_000 });
    const sizes = async () =>
      (await agent.request('blk', [], { timeout: 10_000 })).map((d) => d.sizeBytes).sort((a, b) => a - b);
    expect(await sizes()).toEqual([8 * MiB]);

    const plugged: HotplugResult[] = [];
    for (const [id, mib] of [
      ['h1', 9],
      ['h2', 10],
    ] as const) {
      const r = await sb.hotplug({ kind: 'block', id, file: image(`${id}.img`, mib), driver: 'virtio-scsi' });
      expect(r).toMatchObject({ kind: 'hotplug', id, confirmedBy: 'guest' });
      expect(r.guestPath).toMatch(/^sd[a-z]$/);
      plugged.push(r);
    }
    expect(await sizes()).toEqual([8 * MiB, 9 * MiB, 10 * MiB]);

    const qmp = sb.qmp;
    if (!qmp) throw new Error('expected a QMP client on a running sandbox');
    const addr = async (id: string) => ({
      scsiId: await qmp.execute('qom-get', { path: `/machine/peripheral/${id}`, property: 'scsi-id' }),
      lun: await qmp.execute('qom-get', { path: `/machine/peripheral/${id}`, property: 'lun' }),
    });
    const seen = [await addr('d0'), await addr('h1'), await addr('h2')];
    expect(new Set(seen.map((a) => `${a.scsiId}:${a.lun}`)).size).toBe(3);
    // What the record said is what QEMU has.
    expect(plugged.map((p) => ({ scsiId: p.placement.scsi?.scsiId, lun: p.placement.scsi?.lun }))).toEqual(
      seen.slice(1),
    );

    expect(await sb.unplug('d0')).toEqual({
      kind: 'unplug',
      id: 'd0',
      removed: true,
      pending: false,
    });
    const peripheral = await qmp.execute('qom-list', { path: '/machine/peripheral' });
    expect(peripheral.map((p) => p.name)).not.toContain('d0');
    expect(await sizes()).toEqual([9 * MiB, 10 * MiB]);
    // The freed drive index is handed out again, still distinct from the live ones.
    const again = await sb.hotplug({
      kind: 'block',
      id: 'h3',
      file: image('h3.img', 11),
      driver: 'virtio-scsi',
    });
    const h3 = await addr('h3');
    expect(seen.slice(1).map((a) => `${a.scsiId}:${a.lun}`)).not.toContain(`${h3.scsiId}:${h3.lun}`);
    expect(again.placement.scsi).toMatchObject(h3);
    expect(await sizes()).toEqual([9 * MiB, 10 * MiB, 11 * MiB]);

    expect((await sb.stop()).stopReason).toBe('requested');
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });

  it('plugs and unplugs SCSI disks back to back on a paused sandbox, and every block node goes with its disk', async () => {
    const config: SandboxConfig = {
      id: freshId('hpscsip'),
      hypervisor: {
        kernelPath: g.kernel,
        initrdPath: g.initrd,
        memorySize: 512,
        blockDeviceDriver: 'virtio-scsi',
      },
    };
    const sb = await createTracked(config, { runDir: base, logger: quietLogger, accelerator: 'tcg' });
    await sb.start();
    await sb.pause();
    const qmp = sb.qmp;
    if (!qmp) throw new Error('expected a QMP client on a running sandbox');
    const nodes = async () =>
      (await qmp.execute('query-named-block-nodes', { flat: true }))
        .flatMap((n) => n['node-name'] ?? [])
        .filter((n) => n.startsWith('drive-p'));
    for (const id of ['p1', 'p2', 'p3', 'p4', 'p5']) {
      const plugged = await sb.hotplug({
        kind: 'block',
        id,
        file: image(`${id}.img`, 1),
        driver: 'virtio-scsi',
      });
      expect(plugged).toMatchObject({ kind: 'hotplug', id, confirmedBy: 'qemu' });
      expect(await nodes()).toEqual([`drive-${id}`]);
      // QEMU removes a SCSI disk without the guest, so the removal completes while paused.
      expect(await sb.unplug(id)).toEqual({
        kind: 'unplug',
        id,
        removed: true,
        pending: false,
      });
      expect(await nodes()).toEqual([]);
    }
    expect(sb.devices().map((d) => d.id)).not.toContain('p5');
    expect((await sb.stop()).stopReason).toBe('requested');
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });
});
