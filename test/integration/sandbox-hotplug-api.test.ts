// sb.hotplug / sb.unplug / sb.devices() through createSandbox: a DeviceSpec in, a HotplugResult
// out, the device record and sb.events$ (operation phases, device plugged / deleted / unplugged).
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SandboxConfig, SandboxEvent } from '../../src/index.js';
import { descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { createTracked, freshId, quietLogger, stopAll, tempRunBase } from './sandbox-fixtures.js';

const g = guest('cloud');
const base = tempRunBase();
const files = mkdtempSync('/tmp/vmactor-hp-api-');
afterEach(stopAll);
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
  rmSync(files, { recursive: true, force: true });
});

function image(name: string): string {
  const file = join(files, name);
  writeFileSync(file, '');
  truncateSync(file, 4 * 1024 * 1024);
  return file;
}

describe('sb.hotplug through createSandbox', () => {
  it('hot-plugs a DeviceSpec disk and unplugs it, with the record and the event stream telling each step', async () => {
    const cold = image('cold.img');
    const config: SandboxConfig = {
      id: freshId('hpapi'),
      hypervisor: {
        kernelPath: g.kernel,
        initrdPath: g.initrd,
        memorySize: 512,
        blockDeviceDriver: 'virtio-scsi',
      },
      devices: [{ kind: 'block', id: 'c0', file: cold }],
    };
    const sb = await createTracked(config, { runDir: base, logger: quietLogger, accelerator: 'tcg' });
    const seen: SandboxEvent[] = [];
    sb.events$.subscribe((e) => seen.push(e));
    await sb.start();
    expect(sb.devices().map((d) => [d.id, d.origin])).toEqual([['c0', 'cold']]);

    const r = await sb.hotplug({ kind: 'block', id: 'd1', file: image('d1.img') }, { id: 'plug' });
    expect(r).toMatchObject({ kind: 'hotplug', id: 'd1', placement: { bus: 'scsi0.0' } });
    expect(r.placement.scsi).not.toEqual(sb.devices().find((d) => d.id === 'c0')?.placement.scsi);
    expect(sb.devices().map((d) => [d.id, d.origin])).toEqual([
      ['c0', 'cold'],
      ['d1', 'hot'],
    ]);
    const plugged = seen.find((e) => e.type === 'device' && e.change === 'plugged');
    expect(plugged).toMatchObject({ deviceId: 'd1', operationId: 'plug', placement: r.placement });

    expect(await sb.unplug('d1', { id: 'unplug' })).toMatchObject({
      kind: 'unplug',
      id: 'd1',
      removed: true,
    });
    expect(sb.devices().map((d) => d.id)).toEqual(['c0']);
    await sb.stop();

    const order = seen
      .filter((e) => e.type !== 'lifecycle' || e.to === 'running' || e.to === 'stopping')
      .map((e) =>
        e.type === 'lifecycle'
          ? e.to
          : e.type === 'operation'
            ? `${e.id}:${e.phase}`
            : e.type === 'device'
              ? `${e.change}:${e.deviceId}`
              : e.type,
      );
    // QEMU's DEVICE_DELETED for a SCSI disk may come before or after device_del's reply (applied).
    expect(order.filter((x) => x !== 'deleted:d1')).toEqual([
      'running',
      'plug:requested',
      'plug:applied',
      'plug:confirmed',
      'plugged:d1',
      'unplug:requested',
      'unplug:applied',
      'unplug:confirmed',
      'unplugged:d1',
      'stopping',
    ]);
    const deleted = order.indexOf('deleted:d1');
    expect(deleted).toBeGreaterThan(order.indexOf('unplug:requested'));
    expect(deleted).toBeLessThan(order.indexOf('unplug:confirmed'));
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });
});
