// Cold-plugged fds reach QEMU: a NIC on a tap fd opened in a network namespace the test creates
// boots the default guest through createSandbox, and the guest sees the NIC by its MAC.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LaunchFdError } from '../../src/process/errors.js';
import { stdioFor } from '../../src/process/qemu-process.js';
import { createSandbox } from '../../src/sandbox/create.js';
import { SandboxStartError } from '../../src/sandbox/errors.js';
import { descendants, leftovers } from '../helpers/census.js';
import { guest, isRoot } from '../helpers/env.js';
import { IP, runChild, testNetns } from '../helpers/netns.js';
import { quietLogger, tempRunBase } from './sandbox-fixtures.js';

isRoot();
const base = tempRunBase();
const netns = testNetns('launch');
afterEach(() => {
  netns.removeAll();
  expect(descendants()).toEqual([]);
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('cold-plugged fds reach QEMU', () => {
  it('boots the default guest with a NIC on a tap fd opened in a test netns, and the guest lists the NIC by MAC', async () => {
    const ns = netns.add('fd');
    const tap = `lt${process.pid % 100000}`;
    execFileSync(IP, ['netns', 'exec', ns, IP, 'tuntap', 'add', 'dev', tap, 'mode', 'tap', 'vnet_hdr']);
    execFileSync(IP, ['netns', 'exec', ns, IP, 'link', 'set', tap, 'up']);
    const mac = '02:00:fd:00:00:01';
    const child = new URL('./launch-net-fd.child.ts', import.meta.url).pathname;
    const r = await runChild(IP, [
      'netns',
      'exec',
      ns,
      process.execPath,
      '--import',
      'tsx',
      child,
      tap,
      mac,
      base,
      `fd-${process.pid}`,
    ]);
    expect(r.err).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out.trim().split('\n').pop() ?? '{}') as {
      tun: number;
      planned: { fd: number; hostFd?: number; purpose: string }[];
      argv: string[];
      nics: { name: string; mac: string }[];
      stopReason: string;
    };
    // The plan names the fd for QEMU, and QEMU's netdev takes it by that number.
    expect(out.planned).toHaveLength(1);
    const qemuFd = out.planned[0]?.fd as number;
    expect(out.planned[0]?.hostFd ?? qemuFd).toBe(out.tun);
    expect(
      out.argv.some(
        (a) =>
          a.includes(`fds=${qemuFd}`) || a.includes(`"fds":"${qemuFd}"`) || a.includes(`"fd":"${qemuFd}"`),
      ),
    ).toBe(true);
    expect(out.nics.map((n) => n.mac)).toContain(mac);
    expect(out.stopReason).toBe('requested');
    expect(leftovers(base)).toEqual([]);
  }, 120_000);

  it('refuses a tap fd that is not open in the controller, before anything is launched', async () => {
    const g = guest('cloud');
    const sb = await createSandbox(
      {
        id: `fdbad-${process.pid}`,
        hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 256 },
        devices: [{ kind: 'net', id: 'nic0', mac: '02:00:fd:00:00:09', fds: [987], vhost: false }],
      },
      { runDir: base, logger: quietLogger, accelerator: 'tcg' },
    );
    const err = await sb.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SandboxStartError);
    const cause = (err as SandboxStartError).cause;
    expect(cause).toBeInstanceOf(LaunchFdError);
    expect((cause as LaunchFdError).hostFd).toBe(987);
    expect((cause as Error).message).toMatch(/to be open in this process, got EBADF/);
    expect(leftovers(base)).toEqual([]);
  });

  it("never puts a passed fd on QMP's number 3", () => {
    expect(() => stdioFor([{ fd: 3, hostFd: 0, deviceId: 'nic0' }])).toThrow(/above 3/);
    expect(stdioFor([{ fd: 6, hostFd: 0 }])).toEqual([
      'ignore',
      'pipe',
      'pipe',
      'pipe',
      'ignore',
      'ignore',
      0,
    ]);
  });
});
