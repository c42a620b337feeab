// Hot plug through the Sandbox handle and its XState machine on a sandbox from createSandbox: the
// operation's phase events, failed + rolled-back for a rolled-back class, the capacity guard, STOP
// pre-empting a burst, and the per-call DEVICE_DELETED deadline.
import { filter, firstValueFrom, timeout } from 'rxjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  DuplicateDeviceError,
  HotplugRefusedError,
  type HotplugResult,
  HotplugTimeoutError,
} from '../../src/hotplug/index.js';
import { descendants, leftovers } from '../helpers/census.js';
import { cleanupFiles, fails, image, qmpView, runBase, startSandbox } from './hotplug-fixtures.js';
import { stopAll } from './sandbox-fixtures.js';

afterEach(async () => {
  await stopAll();
  expect(descendants()).toEqual([]);
  expect(leftovers(runBase)).toEqual([]);
});
afterAll(cleanupFiles);

describe('hot plug through the sandbox machine', () => {
  it('runs a disk hot plug as an OPERATION with requested, applied and confirmed phases and the provider result; a SCSI disk unplugs without the guest', async () => {
    const h = await startSandbox({ hypervisor: { blockDeviceDriver: 'virtio-scsi' } });
    const r = (await h.sb.operate(
      {
        kind: 'hotplug',
        device: { kind: 'block', id: 'disk1', file: image(h, 'disk.img'), driver: 'virtio-blk' },
      },
      { id: 'op1' },
    )) as HotplugResult;
    expect(r).toEqual({
      kind: 'hotplug',
      id: 'disk1',
      placement: { bus: 'pci-bridge-0', addr: '01', pciPath: '02/01', bridgeSlot: true },
      confirmedBy: 'qemu',
    });
    expect(h.phases('op1')).toEqual(['requested', 'applied', 'confirmed']);
    await h.sb.operate({
      kind: 'hotplug',
      device: { kind: 'block', id: 'sd1', file: image(h, 'sd.img') },
    });
    expect(await h.sb.operate({ kind: 'unplug', id: 'sd1' }, { id: 'un' })).toEqual({
      kind: 'unplug',
      id: 'sd1',
      removed: true,
      pending: false,
    });
    expect(h.phases('un')).toEqual(['requested', 'applied', 'confirmed']);
  });

  it('emits failed then rolled-back when QEMU refuses a step, failed only for what the capacity guard rejects, and keeps running', async () => {
    const h = await startSandbox();
    const err = await fails(
      h.sb,
      { kind: 'hotplug', device: { kind: 'block', id: 'console0', file: image(h, 'disk.img') } },
      'dup',
    );
    expect(err).toBeInstanceOf(HotplugRefusedError);
    expect(h.phases('dup')).toEqual(['requested', 'failed', 'rolled-back']);
    // The failed phase carries the typed error itself.
    expect(h.ops.find((e) => e.id === 'dup' && e.phase === 'failed')?.error).toBe(err);
    const full = await fails(h.sb, { kind: 'resize-vcpus', count: 64, strict: true }, 'cpu');
    expect(full).toMatchObject({ code: 'ERR_OPERATION_NO_CAPACITY' });
    expect(h.phases('cpu')).toEqual(['requested', 'failed']);
    expect(h.sb.phase).toBe('running');
  });

  it("gives up waiting for DEVICE_DELETED at the sandbox's deadline, keeps the removal pending, finishes it (slot released) once QEMU deletes the device, and a per-call deadline overrides the sandbox's", async () => {
    const h = await startSandbox({
      guestAgent: true,
      waitGuest: true,
      hotplugDeadlines: { deviceDeletedMs: 2 },
    });
    await h.sb.operate({ kind: 'hotplug', device: { kind: 'block', id: 'd1', file: image(h, 'd1.img') } });
    await h.sb.operate({ kind: 'hotplug', device: { kind: 'block', id: 'd2', file: image(h, 'd2.img') } });
    // Paused, the guest cannot acknowledge: device_del is accepted and the removal stays pending.
    await h.sb.pause();
    expect(await h.sb.operate({ kind: 'unplug', id: 'd1' })).toEqual({
      kind: 'unplug',
      id: 'd1',
      removed: false,
      pending: true,
    });
    await h.sb.resume();
    // The guest cannot eject the disk within 2 ms of device_del under TCG: that deadline passes first.
    const deleted = firstValueFrom(
      h.qmp.events$.pipe(
        filter((e) => e.event === 'DEVICE_DELETED' && e.data.device === 'd2'),
        timeout(30_000),
      ),
    );
    const started = Date.now();
    const late = await fails(h.sb, { kind: 'unplug', id: 'd2' });
    expect(late).toBeInstanceOf(HotplugTimeoutError);
    expect(late).toMatchObject({ timeoutMs: 2, code: 'ERR_HOTPLUG_TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(3_000);
    await deleted;
    // The next operation finishes both pending removals: their slots are free again.
    const d3 = (await h.sb.operate({
      kind: 'hotplug',
      device: { kind: 'block', id: 'd3', file: image(h, 'd3.img') },
    })) as HotplugResult;
    expect(d3.placement.pciPath).toBe('02/01');
    expect(await qmpView(h)).toMatchObject({ devices: ['d3'], blockNodes: ['drive-d3'] });
    expect(await h.sb.operate({ kind: 'unplug', id: 'd3', deviceDeletedMs: 20_000 })).toEqual({
      kind: 'unplug',
      id: 'd3',
      removed: true,
      pending: false,
    });
    expect(await qmpView(h)).toMatchObject({ devices: [], blockNodes: [] });
  });

  it('gives up phase two at the per-call guest deadline with a typed timeout, and the disk QEMU took stays recorded', async () => {
    const h = await startSandbox({ guestAgent: true, waitGuest: true });
    const late = await fails(
      h.sb,
      { kind: 'hotplug', device: { kind: 'block', id: 'g1', file: image(h, 'g1.img') }, guestDeadlineMs: 1 },
      'late',
    );
    expect(late).toBeInstanceOf(HotplugTimeoutError);
    expect(late).toMatchObject({ timeoutMs: 1, code: 'ERR_HOTPLUG_TIMEOUT' });
    // Phase one happened: `applied`, then `failed` without `rolled-back` (the change stays).
    expect(h.phases('late')).toEqual(['requested', 'applied', 'failed']);
    expect(await qmpView(h)).toMatchObject({ devices: ['g1'], blockNodes: ['drive-g1'] });
    expect(
      await fails(h.sb, { kind: 'hotplug', device: { kind: 'block', id: 'g1', file: image(h, 'g2.img') } }),
    ).toBeInstanceOf(DuplicateDeviceError);
    expect(await h.sb.operate({ kind: 'unplug', id: 'g1' })).toMatchObject({ removed: true });
  });

  it('lets STOP pre-empt a queued burst of hot plugs and leaves no process or file behind', async () => {
    const h = await startSandbox();
    const file = image(h, 'disk.img');
    const ops = Array.from({ length: 5 }, (_, i) =>
      h.sb.operate({ kind: 'hotplug', device: { kind: 'block', id: `b${i}`, file } }).then(
        () => 'ok' as const,
        (e: unknown) => e,
      ),
    );
    const stopped = h.sb.stop();
    const outcomes = await Promise.all(ops);
    expect((await stopped).stopReason).toBe('requested');
    for (const o of outcomes) {
      if (o !== 'ok')
        // The machine abandons queued ones (ERR_OPERATION_ABORTED); the running one is pre-empted by its signal.
        expect(o).toMatchObject({ code: expect.stringMatching(/ERR_OPERATION_ABORTED|ERR_HOTPLUG_ABORTED/) });
    }
    expect(outcomes.some((o) => o !== 'ok')).toBe(true);
  });
});
