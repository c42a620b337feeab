// Reattach cost against the raw minimum, in the same run: attachSandbox → controllable vs a raw monitor connect
// (greeting → capabilities → query-status); recoverSandboxes of 50 live sandboxes vs 50 raw connects; and the cost
// of persisting state.json on the pause/resume path (with vs without the persister) on a tmpfs run base.
import { rmSync, truncateSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { SandboxConfig } from '../../src/config/types.js';
import { attachSandbox } from '../../src/sandbox/attach.js';
import { createSandbox } from '../../src/sandbox/create.js';
import { persisterOf } from '../../src/sandbox/persist.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import { readStateFile, writeStateFile } from '../../src/sandbox/state-file.js';
import { recoverSandboxes } from '../../src/supervisor/recover.js';
import { guest } from '../helpers/env.js';
import { freshId, quietLogger } from '../integration/sandbox-fixtures.js';
import type { Benchmark } from './harness.js';
import { median, nowMs, tmpfsRunBase } from './harness.js';
import { RawLines } from './raw-qmp.js';

const config = (id: string): SandboxConfig => {
  const g = guest('cloud');
  return { id, hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 256 } };
};

/** Raw reattach: connect the monitor path, greeting, capabilities, query-status, close. */
async function rawAttach(path: string): Promise<void> {
  const socket = connect(path);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const raw = new RawLines(socket);
  await raw.readLine();
  raw.writeLine('{"execute":"qmp_capabilities"}');
  await raw.readLine();
  raw.writeLine('{"execute":"query-status"}');
  let line = await raw.readLine();
  while (line.includes('"event"')) line = await raw.readLine();
  socket.destroy();
  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
}

/** A started, paused sandbox (paused: 50 of them stay cheap on a shared machine). */
async function pausedSandbox(base: string, id = freshId('bench-re')): Promise<Sandbox> {
  const sb = await createSandbox(config(id), { runDir: base, logger: quietLogger, accelerator: 'tcg' });
  await sb.start();
  await sb.pause();
  return sb;
}

const attach: Benchmark = {
  name: 'attachSandbox → controllable (detached handle → Sandbox in its phase vs raw monitor connect + capabilities + query-status)',
  async run(runs) {
    const base = tmpfsRunBase();
    let sb = await pausedSandbox(base);
    const samples: number[] = [];
    const baseline: number[] = [];
    try {
      for (let i = 0; i < runs; i++) {
        const handle = await sb.detach();
        let t = nowMs();
        await rawAttach(readStateFile(handle.runDir).monitorSocket);
        baseline.push(nowMs() - t);
        t = nowMs();
        sb = await attachSandbox(handle, { logger: quietLogger });
        samples.push(nowMs() - t);
      }
    } finally {
      await sb.stop();
      rmSync(base, { recursive: true, force: true });
    }
    return { samples, baseline, extra: { goal_ms: 50 } };
  },
};

const recover50: Benchmark = {
  name: 'recoverSandboxes of 50 live sandboxes (vs 50 raw monitor connects, 8 at a time)',
  async run(runs) {
    const base = tmpfsRunBase();
    let sandboxes: Sandbox[] = [];
    for (let i = 0; i < 50; i++) sandboxes.push(await pausedSandbox(base, `r${i}`));
    const samples: number[] = [];
    const baseline: number[] = [];
    const rounds = Math.min(runs, 5);
    try {
      for (let r = 0; r < rounds; r++) {
        const handles = await Promise.all(sandboxes.map((sb) => sb.detach()));
        const paths = handles.map((h) => readStateFile(h.runDir).monitorSocket);
        let t = nowMs();
        for (let i = 0; i < paths.length; i += 8) await Promise.all(paths.slice(i, i + 8).map(rawAttach));
        baseline.push(nowMs() - t);
        t = nowMs();
        const outcomes = await recoverSandboxes(base, { logger: quietLogger });
        samples.push(nowMs() - t);
        sandboxes = outcomes.flatMap((o) => (o.outcome === 'reattached' ? [o.sandbox] : []));
        if (sandboxes.length !== 50) throw new Error(`recovered ${sandboxes.length} of 50`);
      }
    } finally {
      await Promise.all(sandboxes.map((sb) => sb.stop()));
      rmSync(base, { recursive: true, force: true });
    }
    return { samples, baseline, extra: { sandboxes: 50, goal_ms: 2000 } };
  },
};

const persistCost: Benchmark = {
  name: 'pause+resume with state.json persisted (tmpfs run base) vs the same sandbox with the persister off',
  async run(runs) {
    const base = tmpfsRunBase();
    const on = await pausedSandbox(base);
    const off = await pausedSandbox(base);
    persisterOf(off)?.close();
    const samples: number[] = [];
    const baseline: number[] = [];
    const writes: number[] = [];
    const n = Math.max(runs, 5);
    try {
      await Promise.all([on.resume(), off.resume()]);
      const cycle = async (sb: Sandbox, into: number[]) => {
        const t = nowMs();
        await sb.pause();
        await sb.resume();
        into.push(nowMs() - t);
      };
      // Alternating which goes first, so the machine's load hits both sides alike.
      for (let i = 0; i < n; i++) {
        const order: [Sandbox, number[]][] = [
          [off, baseline],
          [on, samples],
        ];
        if (i % 2) order.reverse();
        for (const [sb, into] of order) await cycle(sb, into);
      }
      // The write itself (two per pause+resume): temp, fsync, rename, fsync dir.
      const state = readStateFile(on.runDir);
      for (let i = 0; i < n * 4; i++) {
        const t = nowMs();
        writeStateFile(on.runDir, state);
        writes.push(nowMs() - t);
      }
    } finally {
      await Promise.all([on.stop(), off.stop()]);
      rmSync(base, { recursive: true, force: true });
    }
    const added = median(samples) - median(baseline);
    return {
      samples,
      baseline,
      extra: {
        write_median_ms: Number(median(writes).toFixed(4)),
        added_pause_resume_ms: Number(added.toFixed(4)),
        goal_added_ms: 0.2,
      },
    };
  },
};

const persistHotplug: Benchmark = {
  name: 'hotplug+unplug of a SCSI disk with state.json persisted (tmpfs) vs the persister off (paused VMs)',
  async run(runs) {
    const base = tmpfsRunBase();
    const disk = join(base, 'disk.img');
    writeFileSync(disk, '');
    truncateSync(disk, 8 * 1024 * 1024);
    const on = await pausedSandbox(base);
    const off = await pausedSandbox(base);
    persisterOf(off)?.close();
    const samples: number[] = [];
    const baseline: number[] = [];
    let cycles = 0;
    try {
      const cycle = async (sb: Sandbox, into: number[]) => {
        const t = nowMs();
        await sb.hotplug({ kind: 'block', id: 'hb', file: disk });
        await sb.unplug('hb');
        into.push(nowMs() - t);
      };
      // Alternating which goes first, so QEMU's own variance (RCU, the backend-removal backoff) hits both.
      for (let i = 0; i < Math.max(runs, 5); i++) {
        if (i % 2) {
          await cycle(on, samples);
          await cycle(off, baseline);
        } else {
          await cycle(off, baseline);
          await cycle(on, samples);
        }
      }
      cycles = samples.length;
    } finally {
      await Promise.all([on.stop(), off.stop()]);
      rmSync(base, { recursive: true, force: true });
    }
    return {
      samples,
      baseline,
      extra: {
        writes_per_cycle: Number(((persisterOf(on)?.stats.writes ?? 0) / Math.max(cycles, 1)).toFixed(1)),
        added_ms: Number((median(samples) - median(baseline)).toFixed(4)),
      },
    };
  },
};

/** The benchmarks of this file. */
export const benchmarks: Benchmark[] = [attach, recover50, persistCost, persistHotplug];
