// `vmactor serve` as a real daemon with real QEMU and the default guest, driven by the real CLI verbs (--json parsed).
import { spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alive, descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { freshId, tempRunBase } from './sandbox-fixtures.js';
import {
  BIN,
  cli,
  quitQemu,
  removeTempSockets,
  startDaemon,
  stopDaemons,
  tempSocket,
} from './service-fixtures.js';

const base = tempRunBase();
afterAll(async () => {
  await stopDaemons();
  rmSync(base, { recursive: true, force: true });
  removeTempSockets();
});
guest('cloud');

interface Summary {
  id: string;
  phase: string;
  qemuPid: number | null;
  vcpus: number;
  devices: { id: string; kind: string }[];
  runDir: string;
}

describe('vmactor serve and its client verbs', () => {
  it('create → start → attach-disk → ps → set-vcpus → pause → resume → detach-disk → stop → rm, all with --json', async () => {
    const socket = tempSocket();
    // --stop-on-exit: a failing step leaves no VM behind when the daemon is stopped.
    const d = await startDaemon(base, socket, ['--stop-on-exit']);
    const s = ['--socket', socket, '--json'];
    const id = freshId('svc');
    const disk = join(base, `${id}.img`);
    writeFileSync(disk, Buffer.alloc(1024 * 1024));
    try {
      const cfg = join(base, `${id}.json`);
      writeFileSync(cfg, JSON.stringify({ id, hypervisor: { memorySize: 512, defaultMaxVCPUs: 2 } }));
      const json = async <T>(args: string[]): Promise<T> => {
        const r = await cli([...args, ...s]);
        expect(r.err, `vmactor ${args.join(' ')}`).toBe('');
        expect(r.code, `vmactor ${args.join(' ')}`).toBe(0);
        return JSON.parse(r.out) as T;
      };
      const created = await json<Summary>(['create', '--config', cfg]);
      expect(created).toMatchObject({ id, phase: 'created', qemuPid: null });
      const started = await json<Summary>(['start', id]);
      expect(started.phase).toBe('running');
      expect(started.qemuPid).toBeGreaterThan(0);
      const attached = await json<{ id: string; kind: string }>(['attach-disk', id, disk, 'd1']);
      expect(attached).toMatchObject({ id: 'd1', kind: 'hotplug' });
      const list = await json<Summary[]>(['ps']);
      expect(list).toHaveLength(1);
      expect(list[0]).toMatchObject({ id, phase: 'running', qemuPid: started.qemuPid });
      expect(list[0]?.devices.map((x) => x.id)).toContain('d1');
      const cpus = await json<{ currentVCPUs: number; newVCPUs: number }>(['set-vcpus', id, '2']);
      expect(cpus).toMatchObject({ currentVCPUs: 1, newVCPUs: 2 });
      expect((await json<Summary>(['pause', id])).phase).toBe('paused');
      expect((await json<Summary>(['resume', id])).phase).toBe('running');
      const detached = await json<{ removed: boolean }>(['detach-disk', id, 'd1']);
      expect(detached.removed).toBe(true);
      const after = await json<Summary[]>(['ps']);
      expect(after[0]?.vcpus).toBe(2);
      expect(after[0]?.devices.map((x) => x.id)).not.toContain('d1');
      const stopped = await json<Summary & { result: { stopReason: string } }>(['stop', id]);
      expect(stopped).toMatchObject({ phase: 'stopped', qemuPid: null, result: { stopReason: 'requested' } });
      expect(existsSync(started.runDir)).toBe(false);
      expect(await json(['rm', id])).toEqual({ id, removed: true });
      expect(await json<Summary[]>(['ps'])).toEqual([]);
      const human = await cli(['ps', '--socket', socket]);
      expect(human.out.split('\n')[0]).toMatch(/^ID\s+PHASE\s+QEMU PID\s+VCPUS\s+MEMORY\s+DEVICES$/);
    } finally {
      d.child.kill('SIGTERM');
      expect(await d.exited).toBe(0);
      rmSync(disk, { force: true });
      rmSync(join(base, `${id}.json`), { force: true });
    }
    expect(existsSync(socket)).toBe(false);
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });

  it('console streams until the sandbox stops, logs answers as JSON, events replays the lifecycle as JSON lines', async () => {
    const socket = tempSocket();
    const d = await startDaemon(base, socket, ['--stop-on-exit']);
    const id = freshId('con');
    try {
      expect((await cli(['create', '--id', id, '--start', '--socket', socket])).code).toBe(0);
      const con = spawn(process.execPath, [BIN, 'console', id, '--socket', socket], {
        stdio: ['ignore', 'pipe', 'pipe'],
        shell: false,
      });
      const conExit = new Promise<number | null>((r) => con.once('exit', (c) => r(c)));
      const logs = await cli(['logs', id, '--json', '--socket', socket]);
      expect(logs.code).toBe(0);
      expect(JSON.parse(logs.out)).toMatchObject({ id, console: expect.any(String) });
      const ev = await cli([
        'events',
        '--since',
        '0',
        '--count',
        '3',
        '--json',
        '--sandbox',
        id,
        '--socket',
        socket,
      ]);
      expect(ev.code).toBe(0);
      const lines = ev.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { seq: number; type: string; to?: string });
      expect(lines.map((e) => e.to ?? e.type)).toEqual(['supervisor', 'starting', 'running']);
      expect(lines.map((e) => e.seq)).toEqual([1, 2, 3]);
      expect((await cli(['rm', id, '--socket', socket])).code).toBe(0);
      // The console stream ends when the sandbox's console closes.
      expect(await conExit).toBe(0);
    } finally {
      d.child.kill('SIGTERM');
      expect(await d.exited).toBe(0);
    }
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });

  it('says clearly, with exit 3 and no stack, that no service is running, or that the socket is not ours', async () => {
    const socket = tempSocket();
    const r = await cli(['ps', '--socket', socket]);
    expect(r.code).toBe(3);
    expect(r.err).toBe(
      `vmactor ps: No vmactor service at \`${socket}\` (is \`vmactor serve\` running? --socket PATH names another)\n`,
    );
    // A socket that answers HTTP but is not a vmactor service.
    const { createServer } = await import('node:http');
    const { mkdirSync } = await import('node:fs');
    const { dirname } = await import('node:path');
    mkdirSync(dirname(socket), { recursive: true, mode: 0o700 });
    const other = createServer((_q, res) => res.end('[]'));
    await new Promise<void>((r) => other.listen(socket, r));
    try {
      const notOurs = await cli(['ps', '--socket', socket]);
      expect(notOurs.code).toBe(3);
      expect(notOurs.err).toBe(`vmactor ps: \`${socket}\` answers, but it is not a vmactor service\n`);
      const second = await cli(['serve', '--socket', socket]);
      expect(second.code).toBe(3);
      expect(second.err).toBe(`vmactor serve: Another vmactor service is listening on \`${socket}\`\n`);
    } finally {
      await new Promise<void>((r) => other.close(() => r()));
    }
    const bad = await cli(['start', '--socket', socket]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/Expected 1 argument\(s\), got 0/);
  });

  it('on SIGTERM stops serving and leaves the VMs running; --stop-on-exit stops them', async () => {
    const socket = tempSocket();
    const d = await startDaemon(base, socket);
    const id = freshId('keep');
    expect((await cli(['create', '--id', id, '--start', '--socket', socket])).code).toBe(0);
    const [sb] = JSON.parse((await cli(['ps', '--json', '--socket', socket])).out) as Summary[];
    const pid = sb?.qemuPid as number;
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    expect(d.out()).toMatch(/SIGTERM: closing; sandboxes keep running/);
    expect(existsSync(socket)).toBe(false);
    expect(alive(pid)).toBe(true);
    await quitQemu(sb?.runDir as string);
    rmSync(sb?.runDir as string, { recursive: true, force: true });
    rmSync(join(base, '.vsock-cids'), { recursive: true, force: true });

    const d2 = await startDaemon(base, socket, ['--stop-on-exit']);
    const id2 = freshId('stop');
    expect((await cli(['create', '--id', id2, '--start', '--socket', socket])).code).toBe(0);
    d2.child.kill('SIGTERM');
    expect(await d2.exited).toBe(0);
    expect(d2.out()).toMatch(/SIGTERM: closing, stopping every sandbox/);
    expect(descendants()).toEqual([]);
    expect(leftovers(base).filter((n) => n !== '.vsock-cids')).toEqual([]);
  });

  it('a restarted daemon holds the five sandboxes a SIGKILLed one left (one paused, one with a hot-plugged disk): same QEMU pids and phases, and each stops', async () => {
    const socket = tempSocket();
    const s = ['--socket', socket, '--json'];
    const json = async <T>(args: string[]): Promise<T> => {
      const r = await cli([...args, ...s]);
      expect(r.code, `vmactor ${args.join(' ')}: ${r.err}`).toBe(0);
      return JSON.parse(r.out) as T;
    };
    const ids = [1, 2, 3, 4, 5].map(() => freshId('rec'));
    const disk = join(base, `${ids[0]}.img`);
    writeFileSync(disk, Buffer.alloc(1024 * 1024));
    const first = await startDaemon(base, socket);
    const before = new Map<string, Summary>();
    for (const id of ids) {
      writeFileSync(join(base, `${id}.json`), JSON.stringify({ id, hypervisor: { memorySize: 256 } }));
      await json(['create', '--config', join(base, `${id}.json`)]);
      before.set(id, await json<Summary>(['start', id]));
    }
    const [withDisk, paused] = ids as [string, string];
    await json(['attach-disk', withDisk, disk, 'd1']);
    expect((await json<Summary>(['pause', paused])).phase).toBe('paused');
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await startDaemon(base, socket, ['--stop-on-exit']);
    try {
      const list = await json<Summary[]>(['ps']);
      expect(list.map((x) => x.id).sort()).toEqual([...ids].sort());
      for (const x of list) {
        expect(x.qemuPid).toBe(before.get(x.id)?.qemuPid);
        expect(x.phase).toBe(x.id === paused ? 'paused' : 'running');
      }
      expect(list.find((x) => x.id === withDisk)?.devices.map((d) => d.id)).toContain('d1');
      for (const id of ids) {
        const stopped = await json<Summary & { result: { stopReason: string } }>(['stop', id]);
        expect(stopped.phase).toBe('stopped');
        expect(alive(before.get(id)?.qemuPid ?? 0)).toBe(false);
        expect(existsSync(stopped.runDir)).toBe(false);
      }
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
      rmSync(disk, { force: true });
      for (const id of ids) rmSync(join(base, `${id}.json`), { force: true });
    }
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });
});
