// Sandbox lifecycle cost against the physical limit, in the same run: start → running, pause and
// resume, stop → reaped, each through the Sandbox handle vs the same argv driven by a minimal raw
// QMP client (spawn → greeting → capabilities → command → reply/exit); plus boot to guest-ready.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { connect, type Socket as NetSocket } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import type { SandboxConfig } from '../../src/config/types.js';
import { createSandbox } from '../../src/sandbox/create.js';
import { openSandbox, type Sandbox } from '../../src/sandbox/sandbox.js';
import { guest, QEMU } from '../helpers/env.js';
import { barePlan, freshId, quietLogger, stopAll, tracked } from '../integration/sandbox-fixtures.js';
import type { Benchmark } from './harness.js';
import { median, nowMs, tmpfsRunBase } from './harness.js';
import { RawLines } from './raw-qmp.js';

/** The simplest QMP client: lines in, lines out (replies arrive in order here; events skipped). */
class RawQmp extends RawLines {
  async next(): Promise<Record<string, unknown>> {
    for (;;) {
      const msg = JSON.parse(await this.readLine()) as Record<string, unknown>;
      if (!('event' in msg)) return msg;
    }
  }
  command(name: string): Promise<Record<string, unknown>> {
    const reply = this.next();
    this.writeLine(`{"execute":"${name}"}`);
    return reply;
  }
}

interface RawVm {
  child: ChildProcess;
  qmp: RawQmp;
  exited: Promise<void>;
  dir: string;
}

/** Raw launch of the same argv: spawn → greeting → capabilities (→ cont when -S). */
async function rawStart(argvOf: (dir: string) => readonly string[], base: string): Promise<RawVm> {
  const dir = join(base, freshId('raw'));
  mkdirSync(dir, { mode: 0o700 });
  const [bin, ...args] = argvOf(dir);
  const child = spawn(bin as string, args, { stdio: ['ignore', 'ignore', 'ignore', 'pipe'], detached: true });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const qmp = new RawQmp(child.stdio[3] as Socket);
  await qmp.next(); // greeting
  await qmp.command('qmp_capabilities');
  if (args.includes('-S')) await qmp.command('cont');
  return { child, qmp, exited, dir };
}

async function rawStop(vm: RawVm): Promise<void> {
  vm.qmp.command('quit').catch(() => {});
  await vm.exited;
}

function bareArgv(qemu: string): (dir: string) => readonly string[] {
  const plan = barePlan(qemu);
  return (dir) => plan(dir).argv;
}

function sandbox(qemu: string, base: string): Sandbox {
  return tracked(
    openSandbox({ id: freshId('bench'), plan: barePlan(qemu) }, { runDir: base, logger: quietLogger }),
  );
}

const g = guest('cloud');

/** The default guest's config (when `vmactor setup` ran), else undefined (a bare QEMU is used). */
function guestConfig(id: string): SandboxConfig | undefined {
  if (!g) return undefined;
  return { id, hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 512 } };
}

/** A sandbox through the public path: createSandbox(config) with the default guest, else a bare plan. */
async function publicSandbox(qemu: string, base: string): Promise<Sandbox> {
  const cfg = guestConfig(freshId('bench'));
  if (cfg)
    return tracked(await createSandbox(cfg, { runDir: base, logger: quietLogger, accelerator: 'tcg' }));
  return sandbox(qemu, base);
}

/** The argv createSandbox plans for a run dir (the same command line the raw side launches). */
async function plannedArgv(qemu: string, base: string): Promise<(dir: string) => readonly string[]> {
  const probe = await publicSandbox(qemu, base);
  const argv = probe.plan.argv;
  const from = probe.runDir;
  await probe.stop();
  return (dir) => argv.map((a) => a.replaceAll(from, dir));
}

const startToRunning: Benchmark = {
  name: 'sandbox start→running (createSandbox().start() vs raw spawn→capabilities, same argv)',
  async run(runs) {
    const qemu = QEMU as string;
    const base = tmpfsRunBase();
    const samples: number[] = [];
    const baseline: number[] = [];
    try {
      const argvOf = await plannedArgv(qemu, base);
      const raw = async () => {
        const t = nowMs();
        const vm = await rawStart(argvOf, base);
        baseline.push(nowMs() - t);
        await rawStop(vm);
        rmSync(vm.dir, { recursive: true, force: true });
      };
      const ours = async () => {
        const t = nowMs();
        const sb = await publicSandbox(qemu, base);
        await sb.start();
        samples.push(nowMs() - t);
        await sb.stop();
      };
      // Warm-up of both paths (module loading, page cache), then ABBA order against drift.
      await raw();
      await ours();
      samples.length = 0;
      baseline.length = 0;
      for (let i = 0; i < runs; i++) {
        if (i % 2 === 0) {
          await raw();
          await ours();
        } else {
          await ours();
          await raw();
        }
      }
    } finally {
      await stopAll();
      rmSync(base, { recursive: true, force: true });
    }
    return { samples, baseline, extra: { guest: g ? 'cloud' : 'none (bare QEMU)' } };
  },
};

/** Reads lines from the guest agent socket until the ready line. */
function readyLine(path: string): Promise<NetSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buf = '';
    socket.on('error', reject);
    socket.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      if (buf.includes('VMACTOR-GUEST-READY')) resolve(socket);
    });
  });
}

const bootToReady: Benchmark = {
  name: 'sandbox boot→guest ready (createSandbox().start() + agent ready line vs raw, same argv)',
  async run(runs) {
    const qemu = QEMU as string;
    const base = tmpfsRunBase();
    const samples: number[] = [];
    const baseline: number[] = [];
    const n = Math.min(runs, 10);
    try {
      const argvOf = await plannedArgv(qemu, base);
      const raw = async () => {
        const t = nowMs();
        const vm = await rawStart(argvOf, base);
        const agent = await readyLine(join(vm.dir, 'kata.sock'));
        baseline.push(nowMs() - t);
        agent.destroy();
        await rawStop(vm);
        rmSync(vm.dir, { recursive: true, force: true });
      };
      const ours = async () => {
        const t = nowMs();
        const sb = await publicSandbox(qemu, base);
        await sb.start();
        await (await sb.agent()).waitReady({ timeout: 120_000 });
        samples.push(nowMs() - t);
        await sb.stop();
      };
      // ABBA order: TCG boot times drift with host load.
      for (let i = 0; i < n; i++) {
        if (i % 2 === 0) {
          await raw();
          await ours();
        } else {
          await ours();
          await raw();
        }
      }
    } finally {
      await stopAll();
      rmSync(base, { recursive: true, force: true });
    }
    return { samples, baseline, extra: { guest: 'cloud', accel: 'tcg' } };
  },
};

function pauseResume(which: 'pause' | 'resume'): Benchmark {
  return {
    name: `sandbox ${which} (sb.${which}() vs raw ${which === 'pause' ? 'stop' : 'cont'} round trip)`,
    async run(runs) {
      const qemu = QEMU as string;
      const base = tmpfsRunBase();
      const samples: number[] = [];
      const baseline: number[] = [];
      const sb = sandbox(qemu, base);
      const vm = await rawStart(bareArgv(qemu), base);
      try {
        await sb.start();
        for (let i = 0; i < runs + 3; i++) {
          // sandbox
          if (which === 'resume') await sb.pause();
          let t = nowMs();
          await (which === 'pause' ? sb.pause() : sb.resume());
          const s = nowMs() - t;
          if (which === 'pause') await sb.resume();
          // raw
          if (which === 'resume') await vm.qmp.command('stop');
          t = nowMs();
          await vm.qmp.command(which === 'pause' ? 'stop' : 'cont');
          const b = nowMs() - t;
          if (which === 'pause') await vm.qmp.command('cont');
          if (i >= 3) {
            samples.push(s);
            baseline.push(b);
          }
        }
      } finally {
        await sb.stop();
        await rawStop(vm);
        rmSync(base, { recursive: true, force: true });
      }
      return { samples, baseline };
    },
  };
}

const stopToReaped: Benchmark = {
  name: 'sandbox stop→reaped (sb.stop() until QEMU reaped vs raw quit→exit; extra: until stopped incl. cleanup)',
  async run(runs) {
    const qemu = QEMU as string;
    const base = tmpfsRunBase();
    const samples: number[] = [];
    const baseline: number[] = [];
    const full: number[] = [];
    // The sandbox logs `qemu stopped` (debug) the moment the stop ladder sees QEMU reaped.
    let reapedAt = 0;
    const logger = pino(
      { level: 'debug' },
      {
        write: (line: string) => {
          if (line.includes('"msg":"qemu stopped"')) reapedAt = nowMs();
        },
      },
    );
    try {
      for (let i = 0; i < runs; i++) {
        const vm = await rawStart(bareArgv(qemu), base);
        let t = nowMs();
        await rawStop(vm);
        baseline.push(nowMs() - t);
        rmSync(vm.dir, { recursive: true, force: true });

        const sb = tracked(
          openSandbox({ id: freshId('bench'), plan: barePlan(qemu) }, { runDir: base, logger }),
        );
        await sb.start();
        reapedAt = 0;
        t = nowMs();
        await sb.stop();
        full.push(nowMs() - t);
        samples.push(reapedAt - t);
      }
    } finally {
      await stopAll();
      rmSync(base, { recursive: true, force: true });
    }
    const fullMedian = median(full);
    return {
      samples,
      baseline,
      extra: {
        stopped_median_ms: Number(fullMedian.toFixed(4)),
        stopped_ratio: Number((fullMedian / median(baseline)).toFixed(4)),
      },
    };
  },
};

/** Benchmarks of the sandbox layer (`npm run bench -- sandbox`). */
export const benchmarks: Benchmark[] = QEMU
  ? [startToRunning, pauseResume('pause'), pauseResume('resume'), stopToReaped, ...(g ? [bootToReady] : [])]
  : [];
