// Hot-plug of a virtio-blk disk through runOperation vs the same raw QMP sequence (blockdev-add +
// device_add on a plain socket, same arguments), interleaved on monitors of the same real QEMU:
// (1) the QMP phase (QEMU accepted), (2) the guest-visible phase (the guest's agent lists the disk).
import { writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  agentGuestProbe,
  blockDeviceArgs,
  blockdevArgs,
  DeviceState,
  runOperation,
} from '../../src/hotplug/index.js';
import { createBridges } from '../../src/qemu/bridges.js';
import type { QmpClient } from '../../src/qmp/index.js';
import { cleanupVms, contextFor, launchVm, tempDir, testConfig } from '../integration/hotplug-harness.js';
import { type Benchmark, nowMs } from './harness.js';
import { RawLines, withTwoMonitors } from './raw-qmp.js';

/** The simplest QMP client: write a line, read lines until the reply with that id. */
class RawQmp extends RawLines {
  private id = 0;

  async handshake(): Promise<void> {
    JSON.parse(await this.readLine());
    await this.cmd('qmp_capabilities', undefined);
  }

  /** One command; events in between are skipped; an error reply throws. */
  async cmd(execute: string, args: unknown): Promise<unknown> {
    const id = ++this.id;
    const line = args === undefined ? { execute, id } : { execute, arguments: args, id };
    this.writeLine(JSON.stringify(line));
    for (;;) {
      const msg = JSON.parse(await this.readLine()) as { id?: number; error?: unknown; return?: unknown };
      if (msg.id !== id) continue;
      if (msg.error) throw new Error(JSON.stringify(msg.error));
      return msg.return;
    }
  }
}

const BRIDGE_SLOTS = 30;

/** A -S QEMU with two bridges (ours, raw's) and two monitors (QmpClient, raw). */
async function withQemu<T>(fn: (qmp: QmpClient, raw: RawQmp, dir: string) => Promise<T>): Promise<T> {
  const dir = tempDir();
  try {
    return await withTwoMonitors(
      [
        '-device',
        'pci-bridge,bus=pcie.0,id=pci-bridge-0,chassis_nr=1,shpc=on,addr=2',
        '-device',
        'pci-bridge,bus=pcie.0,id=pci-bridge-1,chassis_nr=2,shpc=on,addr=3',
      ],
      async (qmp, socket) => {
        const raw = new RawQmp(socket);
        await raw.handshake();
        return fn(qmp, raw, dir);
      },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The raw sequence with exactly the arguments runOperation sends. */
async function rawHotplug(
  raw: RawQmp,
  id: string,
  file: string,
  bridge: string,
  slot: number,
): Promise<void> {
  const op = { kind: 'hotplug-block' as const, id, file };
  await raw.cmd('blockdev-add', blockdevArgs({ config: testConfig() }, op, false));
  await raw.cmd(
    'device_add',
    blockDeviceArgs(op, 'virtio-blk', { bus: bridge, addr: slot.toString(16).padStart(2, '0') }),
  );
}

const qmpPhase: Benchmark = {
  name: 'hotplug.virtio-blk.qmp-phase',
  async run(runs) {
    const samples: number[] = [];
    const baseline: number[] = [];
    while (samples.length < runs) {
      // Slot 1 of our bridge goes to the warm-up: 29 measured pairs per QEMU.
      const batch = Math.min(BRIDGE_SLOTS - 1, runs - samples.length);
      await withQemu(async (qmp, raw, dir) => {
        const file = join(dir, 'disk.img');
        writeFileSync(file, Buffer.alloc(1024 * 1024));
        const state = DeviceState.create({ bridges: createBridges(1, 'pci', 'pcie.0') });
        const ctx = {
          qmp,
          state,
          config: testConfig(),
          signal: new AbortController().signal,
          emit: () => {},
        };
        // Warm-up (not measured): first QMP commands, file caches.
        await runOperation(ctx, { kind: 'hotplug-block', id: 'warm', file });
        const ours = async (i: number): Promise<void> => {
          const t = nowMs();
          await runOperation(ctx, { kind: 'hotplug-block', id: `ours${i}`, file });
          samples.push(nowMs() - t);
        };
        const theirs = async (i: number): Promise<void> => {
          const t = nowMs();
          await rawHotplug(raw, `raw${i}`, file, 'pci-bridge-1', i);
          baseline.push(nowMs() - t);
        };
        // Alternate which side goes first so neither always follows the other.
        for (let i = 1; i <= batch; i++) {
          if (i % 2) {
            await ours(i);
            await theirs(i);
          } else {
            await theirs(i);
            await ours(i);
          }
        }
      });
    }
    return { samples, baseline };
  },
};

const guestPhase: Benchmark = {
  name: 'hotplug.virtio-blk.guest-visible',
  async run(runs) {
    const n = Math.min(runs, 12);
    const samples: number[] = [];
    const baseline: number[] = [];
    try {
      const vm = await launchVm({ guest: true, bridges: 2 });
      const agent = vm.agent;
      if (!agent) throw new Error('no agent');
      await agent.waitReady({ timeout: 60_000 });
      const raw = vm.qmp; // the raw side drives the same monitor with untyped commands
      const file = join(vm.dir, 'disk.img');
      writeFileSync(file, Buffer.alloc(1024 * 1024));
      const guest = agentGuestProbe(agent);
      const state = DeviceState.create({ bridges: vm.bridges.slice(0, 1) });
      const ctx = contextFor(vm, { state, guest });
      for (let i = 1; i <= n; i++) {
        let t = nowMs();
        await runOperation(ctx, { kind: 'hotplug-block', id: `g${i}`, file });
        samples.push(nowMs() - t);
        // Baseline: the same two commands, then ask the agent back to back until the disk shows.
        t = nowMs();
        const op = { kind: 'hotplug-block' as const, id: `r${i}`, file };
        await raw.execute('blockdev-add', blockdevArgs({ config: testConfig() }, op, false));
        await raw.execute(
          'device_add',
          blockDeviceArgs(op, 'virtio-blk', {
            bus: vm.bridges[1]?.id ?? 'pci-bridge-1',
            addr: i.toString(16).padStart(2, '0'),
          }),
        );
        for (;;) {
          const disks = await agent.request('blk', []);
          if (disks.some((d) => d.serial === `r${i}`)) break;
        }
        baseline.push(nowMs() - t);
      }
    } finally {
      await cleanupVms();
    }
    return { samples, baseline };
  },
};

/** Hot-plug benchmarks (`npm run bench -- hotplug`). */
export const benchmarks: Benchmark[] = [qmpPhase, guestPhase];
