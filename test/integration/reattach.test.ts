// Sandboxes outlive their controller: a child controller starts a sandbox (default guest, virtio-fs, a hot-plugged
// disk) and is SIGKILLed; this process attaches with attachSandbox and drives the same QEMU to a clean stop.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { GuestAgentClient } from '../../src/guest/agent-client.js';
import { QmpClient } from '../../src/qmp/client.js';
import { attachSandbox } from '../../src/sandbox/attach.js';
import { SandboxStateError } from '../../src/sandbox/errors.js';
import type { SandboxEvent, SandboxReattachedEvent } from '../../src/sandbox/events.js';
import { persisterOf } from '../../src/sandbox/persist.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import {
  MonitorBusyError,
  SandboxControlledError,
  SandboxGoneError,
  SandboxKilledOnAttachError,
} from '../../src/sandbox/state-errors.js';
import { readStateFile } from '../../src/sandbox/state-file.js';
import { recoverSandboxes } from '../../src/supervisor/recover.js';
import { alive, leftovers } from '../helpers/census.js';
import { withDeadline } from './guest-harness.js';
import {
  type ControllerInfo,
  hostFiles,
  killController,
  killControllers,
  killForeign,
  startController,
} from './reattach-fixtures.js';
import { freshId, quietLogger, tempRunBase } from './sandbox-fixtures.js';

const base = tempRunBase();
const files = hostFiles(base);
const attached: Sandbox[] = [];
const pids: number[] = [];

afterEach(async () => {
  await killControllers();
  await Promise.all(attached.splice(0).map((sb) => (sb.detached ? undefined : sb.stop())));
  for (const pid of pids.splice(0)) await killForeign(pid);
});
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
  rmSync(files.share, { recursive: true, force: true });
  rmSync(files.disk, { force: true });
});

function track(info: ControllerInfo): ControllerInfo {
  pids.push(info.qemuPid, info.virtiofsdPid);
  return info;
}

async function attach(runDir: string, opts: Parameters<typeof attachSandbox>[1] = {}): Promise<Sandbox> {
  const sb = await attachSandbox(runDir, { logger: quietLogger, guestAgent: true, ...opts });
  attached.push(sb);
  return sb;
}

/** The `reattached` event (delivered on the next turn of the loop after attachSandbox resolved). */
function reattached(sb: Sandbox): Promise<SandboxReattachedEvent> {
  return firstValueFrom(sb.events$.pipe(filter((e): e is SandboxReattachedEvent => e.type === 'reattached')));
}

function lifecycleTo(sb: Sandbox, to: string): Promise<SandboxEvent> {
  return firstValueFrom(sb.events$.pipe(filter((e) => e.type === 'lifecycle' && e.to === to)));
}

/** Nothing of the sandbox is left: its QEMU and virtiofsd (not our descendants: checked by pid) and its run dir. */
function expectGone(info: ControllerInfo): void {
  expect(alive(info.qemuPid)).toBe(false);
  expect(alive(info.virtiofsdPid)).toBe(false);
  expect(leftovers(base)).toEqual([]);
}

// Each test boots the default guest under TCG in a child process: room for a loaded machine.
describe('attachSandbox after the controller was SIGKILLed', { timeout: 240_000 }, () => {
  for (const mode of ['running', 'paused'] as const) {
    it(`takes over a ${mode} sandbox: same QEMU, same phase, the hot-plugged disk, the agent, unplug, pause/resume, a clean stop`, async () => {
      const id = freshId(`re-${mode}`);
      const { child, info } = await startController(mode, base, id, files);
      track(info);
      expect(info.phase).toBe(mode);
      await killController(child);
      expect(alive(info.qemuPid)).toBe(true);

      const sb = await attach(info.runDir);
      const event = await reattached(sb);
      expect(event).toMatchObject({ phase: mode, qemuPid: info.qemuPid, differences: [] });
      expect(sb.phase).toBe(mode);
      expect(sb.getPids()).toEqual([info.qemuPid, info.virtiofsdPid]);
      expect(sb.devices().map((d) => `${d.id}:${d.origin}`)).toEqual(['fs0:cold', 'disk1:hot']);
      expect(readStateFile(info.runDir).controller?.pid).toBe(process.pid);
      // The console log keeps what the old controller saw.
      expect(await sb.consoleLog()).toContain(info.consoleLog?.slice(-200) ?? '');
      if (mode === 'paused') await sb.resume();
      expect(sb.phase).toBe('running');

      const agent = await sb.agent();
      const { base64 } = await agent.request('read', ['/mnt/host/hello.txt']);
      expect(Buffer.from(base64, 'base64').toString()).toBe('hello from the host\n');
      expect((await agent.request('blk', [])).map((d) => d.sizeBytes)).toContain(16 * 1024 * 1024);

      // console$ continues on the reconnected console socket: the guest kernel reports the unplug.
      const console$ = sb.console$;
      if (!console$) throw new Error('no console');
      const kernelLine = firstValueFrom(console$.pipe(filter((l) => /\bsd[a-z]\b|scsi/i.test(l))));
      await sb.unplug('disk1');
      const line = await withDeadline(kernelLine, 20_000, 'a console line after reattach');
      expect(await sb.consoleLog()).toContain(line);
      expect(sb.devices().map((d) => d.id)).toEqual(['fs0']);
      expect(readStateFile(info.runDir).devices?.devices.map((d) => d.id)).toEqual(['fs0']);
      await sb.pause();
      await persisterOf(sb)?.idle();
      expect(readStateFile(info.runDir).phase).toBe('paused');
      await sb.resume();
      expect((await sb.stop()).stopReason).toBe('requested');
      expectGone(info);
    });
  }

  it('turns a SIGKILL of the reattached QEMU into `crashed` at once (pidfd + monitor EOF), and cleans up', async () => {
    const { child, info } = await startController('started', base, freshId('re-crash'), files);
    track(info);
    await killController(child);
    const sb = await attach(info.runDir);
    const stopped = lifecycleTo(sb, 'stopped');
    process.kill(info.qemuPid, 'SIGKILL');
    expect(await stopped).toMatchObject({ reason: 'crashed' });
    expect((await sb.stopped).stopReason).toBe('crashed');
    expectGone(info);
  });

  it("reports virtiofsd's death after reattach as `virtiofsd-exited`", async () => {
    const { child, info } = await startController('started', base, freshId('re-vfs'), files);
    track(info);
    await killController(child);
    const sb = await attach(info.runDir);
    process.kill(info.virtiofsdPid, 'SIGKILL');
    expect((await sb.stopped).stopReason).toBe('virtiofsd-exited');
    expectGone(info);
  });

  it('finds a QEMU that died while no controller watched: `stopped{crashed}` with the log tail, run dir cleaned', async () => {
    const { child, info } = await startController('started', base, freshId('re-gone'), files);
    track(info);
    await killController(child);
    await killForeign(info.qemuPid);
    const err = await attachSandbox(info.runDir, { logger: quietLogger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxGoneError);
    expect(err).toMatchObject({ code: 'ERR_SANDBOX_GONE', stopReason: 'crashed' });
    expect(typeof (err as SandboxGoneError).stderrTail).toBe('string');
    expectGone(info);
  });

  it('a guest that panicked while no controller watched ends as `stopped{guest-panicked}` after its memory dump', async () => {
    const dumps = mkdtempSync('/tmp/vmactor-dumps-');
    try {
      const id = freshId('re-panic');
      const { child, info } = await startController('started', base, id, files, dumps);
      track(info);
      await killController(child);
      // The guest panics with nobody attached: QEMU pauses (panic=pause); we hear it on the monitor.
      const state = readStateFile(info.runDir);
      const monitor = await QmpClient.connectUnix(state.monitorSocket, { logger: quietLogger });
      const panicked = firstValueFrom(monitor.events$.pipe(filter((e) => e.event === 'GUEST_PANICKED')));
      const agent = await new Promise<GuestAgentClient>((resolve, reject) => {
        const s = connect(state.paths.agentSocket as string);
        s.once('connect', () => resolve(new GuestAgentClient(s)));
        s.once('error', reject);
      });
      await agent.waitReady({ timeout: 120_000 });
      void agent.request('panic', []).catch(() => {});
      await withDeadline(panicked, 60_000, 'GUEST_PANICKED');
      agent.close();
      monitor.close();
      await monitor.closed;

      const sb = await attach(info.runDir);
      expect(['stopping', 'stopped']).toContain(sb.phase);
      const result = await sb.stopped;
      expect(result.stopReason).toBe('guest-panicked');
      expect(readdirSync(join(dumps, id)).some((f) => /^vmcore-.*\.elf$/.test(f))).toBe(true);
      expectGone(info);
    } finally {
      rmSync(dumps, { recursive: true, force: true });
    }
  });

  it('kills and cleans a sandbox whose controller died while it was starting', async () => {
    const { child, info } = await startController('starting', base, freshId('re-start'), files);
    expect(info.phase).toBe('starting');
    await killController(child);
    const err = await attachSandbox(info.runDir, { logger: quietLogger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxKilledOnAttachError);
    expect(err).toMatchObject({ why: 'starting' });
    if (info.qemuPid > 0) expect(alive(info.qemuPid)).toBe(false);
    expect(leftovers(base)).toEqual([]);
  });

  it('refuses while the controller lives, and times out with MonitorBusyError while another client holds the monitor', async () => {
    const { child, info } = await startController('started', base, freshId('re-busy'), files);
    track(info);
    await expect(attachSandbox(info.runDir, { logger: quietLogger })).rejects.toBeInstanceOf(
      SandboxControlledError,
    );
    await killController(child);
    // Someone else on the second monitor (QEMU serves one client at a time).
    const holder = connect(readStateFile(info.runDir).monitorSocket);
    await new Promise<void>((resolve) => holder.once('data', () => resolve()));
    const err = await attachSandbox(info.runDir, { logger: quietLogger, monitorTimeoutMs: 300 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MonitorBusyError);
    expect(err).toMatchObject({ code: 'ERR_MONITOR_BUSY', timeoutMs: 300 });
    holder.destroy();
    await new Promise<void>((resolve) => holder.once('close', () => resolve()));
    const sb = await attach(info.runDir);
    expect(sb.phase).toBe('running');
    await sb.stop();
    expectGone(info);
  });
});

describe('hand-off and recovery', { timeout: 240_000 }, () => {
  it('a detached handle from another process attaches here; the old handle is inert', async () => {
    const { child, info } = await startController('detach', base, freshId('re-handoff'), files);
    track(info);
    await new Promise<void>((resolve) =>
      child.exitCode !== null ? resolve() : child.once('exit', () => resolve()),
    );
    expect(readStateFile(info.runDir).controller).toBeNull();
    const sb = await attachSandbox(info.handle as Parameters<typeof attachSandbox>[0], {
      logger: quietLogger,
    });
    attached.push(sb);
    expect(sb.getPids()).toEqual([info.qemuPid, info.virtiofsdPid]);
    // Detach again in this process: this handle goes inert, a new attach takes over.
    const handle = await sb.detach();
    expect(JSON.parse(JSON.stringify(handle))).toEqual(handle);
    await expect(sb.pause()).rejects.toBeInstanceOf(SandboxStateError);
    await expect(sb.stop()).rejects.toBeInstanceOf(SandboxStateError);
    await expect(sb.hotplug({ kind: 'block', id: 'x1', file: files.disk })).rejects.toBeInstanceOf(
      SandboxStateError,
    );
    const sb2 = await attachSandbox(handle, { logger: quietLogger });
    attached.push(sb2);
    await sb2.pause();
    await sb2.resume();
    await sb2.stop();
    expectGone(info);
  });

  it('recoverSandboxes reattaches the live sandboxes under a run base and cleans the dead ones', async () => {
    const a = await startController('started', base, 'rec-a', files);
    const b = await startController('started', base, 'rec-b', files);
    track(a.info);
    track(b.info);
    await Promise.all([killController(a.child), killController(b.child)]);
    await killForeign(b.info.qemuPid);
    const outcomes = await recoverSandboxes(base, { logger: quietLogger });
    expect(outcomes.map((o) => `${o.id}:${o.outcome}`)).toEqual(['rec-a:reattached', 'rec-b:crashed']);
    const live = outcomes[0];
    if (live?.outcome !== 'reattached') throw new Error('expected rec-a reattached');
    attached.push(live.sandbox);
    expect(live.sandbox.getPids()[0]).toBe(a.info.qemuPid);
    await live.sandbox.stop();
    expectGone(a.info);
    expectGone(b.info);
  });
});
