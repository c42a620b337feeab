// The controller's spawner (posix_spawnp on a libuv worker, reaped through a pidfd) against real
// processes: fds at their numbers even when numbers cross, stdin /dev/null, its own session,
// default signal dispositions, exit codes and signals as Node names them, nothing left open on failure.
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SpawnError } from '../../src/process/errors.js';
import { type DetachedChild, spawnDetached } from '../../src/process/spawn-detached.js';

const dir = mkdtempSync(join(tmpdir(), 'vmactor-spawn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const openFds = (): string[] => readdirSync('/proc/self/fd').sort();

function output(c: DetachedChild): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    c.stdout.on('close', () => resolve(out));
  });
}

describe('spawnDetached', () => {
  it("puts each fd at its number, even where a target is another fd's number, with stdin /dev/null and QMP's end at its fd", async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    writeFileSync(a, '');
    writeFileSync(b, '');
    const fa = openSync(a, 'r');
    const fb = openSync(b, 'r');
    // a goes where b is now and b where a is now (+ the socketpair end at 3).
    const c = await spawnDetached({
      binary: 'readlink',
      args: ['/proc/self/fd/0', `/proc/self/fd/${fb}`, `/proc/self/fd/${fa}`, '/proc/self/fd/3'],
      env: process.env,
      socketFd: 3,
      fds: [
        { fd: fb, hostFd: fa },
        { fd: fa, hostFd: fb },
      ],
    });
    const [out, exit] = await Promise.all([output(c), c.exit.exited]);
    closeSync(fa);
    closeSync(fb);
    c.socket.destroy();
    c.stderr.destroy();
    const [stdin, atB, atA, qmp] = out.trim().split('\n');
    expect(stdin).toBe('/dev/null');
    expect(atB).toBe(a);
    expect(atA).toBe(b);
    expect(qmp).toMatch(/^socket:\[\d+\]$/);
    expect(exit).toEqual({ pid: c.pid, code: 0, signal: null });
  });

  it('runs the child in its own session with default signal dispositions, and names the signal that ended it', async () => {
    const c = await spawnDetached({ binary: 'sleep', args: ['60'], env: process.env, socketFd: 3, fds: [] });
    const stat = readFileSync(`/proc/${c.pid}/stat`, 'utf8');
    const sid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
    expect(sid).toBe(c.pid);
    // Node ignores SIGPIPE; the child must not inherit that. Signals 1-31 only: glibc's posix_spawn
    // leaves its own two internal signals (32, 33) ignored, and every glibc program installs its
    // handlers for them at startup anyway.
    const ignored = /SigIgn:\s*([0-9a-f]+)/.exec(readFileSync(`/proc/${c.pid}/status`, 'utf8'))?.[1];
    expect(BigInt(`0x${ignored}`) & 0x7fffffffn).toBe(0n);
    expect(c.kill('SIGTERM')).toBe(true);
    expect(await c.exit.exited).toEqual({ pid: c.pid, code: null, signal: 'SIGTERM' });
    expect(c.exit.current()).toEqual({ pid: c.pid, code: null, signal: 'SIGTERM' });
    // Reaped: no zombie left, and a signal after the reap goes nowhere.
    expect(() => readFileSync(`/proc/${c.pid}/stat`)).toThrow();
    expect(c.kill('SIGKILL')).toBe(false);
    c.socket.destroy();
    c.stdout.destroy();
    c.stderr.destroy();
  });

  it('reports an exit code, and a missing binary is a SpawnError that leaves no fd open', async () => {
    const c = await spawnDetached({ binary: 'false', args: [], env: process.env, socketFd: 3, fds: [] });
    expect(await c.exit.exited).toMatchObject({ code: 1, signal: null });
    for (const s of [c.socket, c.stdout, c.stderr]) s.destroy();
    const before = openFds();
    const err = await spawnDetached({
      binary: join(dir, 'no-such-binary'),
      args: [],
      env: process.env,
      socketFd: 3,
      fds: [],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpawnError);
    expect((err as SpawnError).cause).toMatchObject({ code: 'ENOENT' });
    expect(openFds()).toEqual(before);
  });
});
