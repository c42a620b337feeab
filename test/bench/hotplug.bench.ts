// Hot plug of a virtio-blk disk through runOperation vs the same raw QMP sequence (blockdev-add +
// device_add on a plain socket, same arguments), interleaved on monitors of the same real QEMU:
// (1) the QMP phase (QEMU accepted), (2) the guest-visible phase (the guest's agent lists the disk),
// the latter on a sandbox from createSandbox with the default guest.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createBridges } from '../../src/devices/bridges.js';
import { DeviceRecord } from '../../src/devices/record.js';
import { hotplugPlan } from '../../src/hotplug/build.js';
import { runOperation } from '../../src/hotplug/index.js';
import type { QmpClient } from '../../src/qmp/index.js';
import { createSandbox } from '../../src/sandbox/create.js';
import { guest } from '../helpers/env.js';
import { testConfig } from '../helpers/hotplug-config.js';
import { quietLogger } from '../integration/sandbox-fixtures.js';
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
  const dir = mkdtempSync('/tmp/vmactor-hpb-');
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
  for (const c of rawCommands(id, file, bridge, slot)) await raw.cmd(c.execute, c.arguments);
}

/** blockdev-add + device_add exactly as the hot-plug builder makes them for a bridge slot. */
function rawCommands(
  id: string,
  file: string,
  bridge: string,
  slot: number,
): { execute: string; arguments: unknown }[] {
  const plan = hotplugPlan(
    { kind: 'block', id, file },
    { bus: bridge, addr: slot.toString(16).padStart(2, '0') },
    testConfig(),
    'bench',
    { isBlockDevice: false },
  );
  return [...plan.commands.map((c) => c.step), { execute: 'device_add', arguments: plan.device }];
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
        const record = DeviceRecord.create({ bridges: createBridges(1, 'pci', 'pcie.0') });
        const ctx = {
          qmp,
          record,
          config: testConfig(),
          signal: new AbortController().signal,
          emit: () => {},
        };
        // Warm-up (not measured): first QMP commands, file caches.
        await runOperation(ctx, { kind: 'hotplug', device: { kind: 'block', id: 'warm', file } });
        const ours = async (i: number): Promise<void> => {
          const t = nowMs();
          await runOperation(ctx, { kind: 'hotplug', device: { kind: 'block', id: `ours${i}`, file } });
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
    const g = guest('cloud');
    const dir = mkdtempSync('/tmp/vmactor-hpb-');
    // Two bridges: ours takes slots of the first, the raw side uses the second.
    const sb = await createSandbox(
      {
        id: `hpbench-${process.pid}`,
        hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 512, defaultBridges: 2 },
      },
      { runDir: dir, logger: quietLogger, accelerator: 'tcg', guestAgent: true },
    );
    try {
      await sb.start();
      const agent = await sb.agent();
      await agent.waitReady({ timeout: 60_000 });
      const raw = sb.qmp; // the raw side drives the same monitor with untyped commands
      if (!raw) throw new Error('no QMP client');
      const file = join(dir, 'disk.img');
      writeFileSync(file, Buffer.alloc(1024 * 1024));
      for (let i = 1; i <= n; i++) {
        let t = nowMs();
        await sb.operate({ kind: 'hotplug', device: { kind: 'block', id: `g${i}`, file } });
        samples.push(nowMs() - t);
        // Baseline: the same two commands, then ask the agent back to back until the disk shows.
        t = nowMs();
        for (const c of rawCommands(`r${i}`, file, 'pci-bridge-1', i)) {
          await raw.executeUntyped(c.execute, c.arguments as Record<string, unknown>);
        }
        for (;;) {
          const disks = await agent.request('blk', []);
          if (disks.some((d) => d.serial === `r${i}`)) break;
        }
        baseline.push(nowMs() - t);
      }
    } finally {
      await sb.stop();
      await rm(dir, { recursive: true, force: true });
    }
    return { samples, baseline };
  },
};

/** Hot-plug benchmarks (`npm run bench -- hotplug`). */
export const benchmarks: Benchmark[] = [qmpPhase, guestPhase];
