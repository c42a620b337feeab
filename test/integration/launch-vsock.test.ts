// vsock guest CIDs are unique on the host: allocated under the run base, refused on collision,
// given back at stop (also for a sandbox that never started), stale ones reclaimed; and QEMU's
// real refusal here (no /dev/vhost-vsock) is the typed QemuVhostVsockUnavailableError.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SandboxConfig } from '../../src/config/types.js';
import { VsockCidInUseError } from '../../src/process/errors.js';
import { VSOCK_DIR } from '../../src/process/vsock-cid.js';
import { QemuVhostVsockUnavailableError } from '../../src/qemu/devices/refusal.js';
import { createSandbox } from '../../src/sandbox/create.js';
import { SandboxStartError } from '../../src/sandbox/errors.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import { descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { freshId, quietLogger, stopAll, tempRunBase, tracked } from './sandbox-fixtures.js';

const g = guest('cloud');
const base = tempRunBase();
afterEach(async () => {
  await stopAll();
  expect(descendants()).toEqual([]);
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

function config(extra: Partial<SandboxConfig> = {}, useVSock = true): SandboxConfig {
  return {
    id: freshId('vs'),
    hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 256, useVSock },
    ...extra,
  };
}

async function create(cfg: SandboxConfig): Promise<Sandbox> {
  return tracked(await createSandbox(cfg, { runDir: base, logger: quietLogger, accelerator: 'tcg' }));
}

/** The guest CIDs on a plan's vhost-vsock devices (key=value or JSON `-device`). */
function cidsOf(sb: Sandbox): number[] {
  const out: number[] = [];
  for (const a of sb.plan.argv) {
    if (!a.includes('vhost-vsock')) continue;
    const m = /guest-cid["']?\s*[=:]\s*"?(\d+)/.exec(a);
    if (m) out.push(Number(m[1]));
  }
  return out;
}

function held(): string[] {
  return leftovers(join(base, VSOCK_DIR)).filter((n) => /^\d+$/.test(n));
}

describe('host-unique vsock CIDs', () => {
  it('gives 20 sandboxes with vsock 20 distinct CIDs, and gets them all back at stop', async () => {
    const sandboxes: Sandbox[] = [];
    for (let i = 0; i < 20; i++) sandboxes.push(await create(config()));
    const cids = sandboxes.map((sb) => {
      const c = cidsOf(sb);
      expect(c).toHaveLength(1);
      return c[0] as number;
    });
    expect(new Set(cids).size).toBe(20);
    for (const c of cids) expect(c).toBeGreaterThanOrEqual(3);
    expect(
      held()
        .map(Number)
        .sort((a, b) => a - b),
    ).toEqual([...cids].sort((a, b) => a - b));
    // Stopped without ever starting: each CID comes back.
    for (const sb of sandboxes) expect((await sb.stop()).stopReason).toBe('requested');
    expect(held()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
    const again = await create(config());
    expect(cidsOf(again)).toEqual([Math.min(...cids)]);
    await again.stop();
  });

  it('refuses an explicit contextId another sandbox holds, with the holder named', async () => {
    const first = await create(config());
    const [cid] = cidsOf(first);
    const err = await create(
      config({ devices: [{ kind: 'vsock', id: 'vsock0', contextId: cid as number }] }, false),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(VsockCidInUseError);
    expect((err as VsockCidInUseError).contextId).toBe(cid);
    expect((err as VsockCidInUseError).owner).toBe(first.id);
    // The refused sandbox holds nothing; the first one still holds its CID.
    expect(held()).toEqual([String(cid)]);
    await first.stop();
    expect(held()).toEqual([]);
    // Free now: the same explicit CID is taken.
    const second = await create(
      config({ devices: [{ kind: 'vsock', id: 'vsock0', contextId: cid as number }] }, false),
    );
    expect(cidsOf(second)).toEqual([cid]);
    await second.stop();
  });

  it('hands distinct CIDs to four controller processes allocating at the same time', async () => {
    const child = new URL('./launch-vsock.child.ts', import.meta.url).pathname;
    const procs = [0, 1, 2, 3].map((i) =>
      spawn(process.execPath, ['--import', 'tsx', child, base, `race-${process.pid}-${i}`, '25'], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    const lines = procs.map((p) => {
      const seen: string[] = [];
      const waiters: ((line: string) => void)[] = [];
      let buf = '';
      p.stdout.on('data', (c: Buffer) => {
        buf += c.toString();
        for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          const w = waiters.shift();
          if (w) w(line);
          else seen.push(line);
        }
      });
      return (): Promise<string> => {
        const l = seen.shift();
        return l !== undefined ? Promise.resolve(l) : new Promise((resolve) => waiters.push(resolve));
      };
    });
    expect(await Promise.all(lines.map((next) => next()))).toEqual(['ready', 'ready', 'ready', 'ready']);
    for (const p of procs) p.stdin.write('go\n');
    const outputs = (await Promise.all(lines.map((next) => next()))).map((l) => JSON.parse(l) as number[]);
    const all = outputs.flat();
    expect(all).toHaveLength(100);
    expect(new Set(all).size).toBe(100);
    expect(held()).toHaveLength(100);
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            p.once('exit', () => resolve());
            p.stdin.end();
          }),
      ),
    );
    expect(held()).toEqual([]);
  });

  it('reclaims a CID whose controller is dead and whose run dir is gone', async () => {
    const dead = spawnSync('true');
    expect(dead.status).toBe(0);
    mkdirSync(join(base, VSOCK_DIR), { recursive: true, mode: 0o700 });
    writeFileSync(
      join(base, VSOCK_DIR, '3'),
      `${JSON.stringify({ sandboxId: 'gone-sandbox', pid: dead.pid, start: '1' })}\n`,
    );
    // A live owner (this process) is never reclaimed, whatever its run dir.
    const live = await create(config());
    expect(cidsOf(live)).toEqual([3]);
    const other = await create(config());
    expect(cidsOf(other)).toEqual([4]);
    await live.stop();
    await other.stop();
    expect(readdirSync(base)).toEqual([]);
  });

  it("starting one fails with QEMU's real refusal as QemuVhostVsockUnavailableError, leaking nothing", async () => {
    const sb = await create(config());
    const err = await sb.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SandboxStartError);
    const cause = (err as SandboxStartError).cause;
    expect(cause).toBeInstanceOf(QemuVhostVsockUnavailableError);
    expect((cause as QemuVhostVsockUnavailableError).stderr).toMatch(/vhost-vsock/);
    await sb.stopped;
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });
});
