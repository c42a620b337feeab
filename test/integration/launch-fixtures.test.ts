// The golden plan fixtures that could not be launched before the launcher passed fds and knew
// network namespaces, launched now through createSandbox: the tap-by-name vhost NIC in a netns
// the test creates, and the multiqueue NIC on passed tap fds + vhost fds. Where this host lacks
// vhost-net, QEMU's real refusal is asserted as the typed error; without vhost the guest sees the NIC.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { QemuVhostNetUnavailableError } from '../../src/qemu/devices/refusal.js';
import { createSandbox } from '../../src/sandbox/create.js';
import { SandboxStartError } from '../../src/sandbox/errors.js';
import { caseConfig, loadPlanCases } from '../golden/plan/cases.js';
import { descendants, leftovers } from '../helpers/census.js';
import { guest, hostBinary, isRoot } from '../helpers/env.js';
import { IP, runChild, testNetns } from '../helpers/netns.js';
import { quietLogger, stopAll, tempRunBase, tracked } from './sandbox-fixtures.js';

const PYTHON = hostBinary('python3');
isRoot();
const base = tempRunBase();
const work = mkdtempSync('/tmp/vmactor-fixtures-');
const netns = testNetns('launch');
afterEach(async () => {
  await stopAll();
  netns.removeAll();
  expect(descendants()).toEqual([]);
});
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

function fixture(name: string) {
  const c = loadPlanCases().find((x) => x.name === name);
  if (!c) throw new Error(`fixture ${name} is missing`);
  return c;
}

describe('golden plan fixtures launched through createSandbox', () => {
  it('amd64-q35-coldplug-net-vhost: the tap by name in a test netns, vhost-net refused here as QemuVhostNetUnavailableError', async () => {
    const c = fixture('amd64-q35-coldplug-net-vhost');
    const ns = netns.add('vh');
    const net = caseConfig(c, work).devices?.find((d) => d.kind === 'net');
    const ifname = (net as { ifname: string }).ifname;
    execFileSync(IP, ['netns', 'exec', ns, IP, 'tuntap', 'add', 'dev', ifname, 'mode', 'tap', 'vnet_hdr']);
    const dir = mkdtempSync(join(work, 'vh-'));
    const g = guest('cloud');
    symlinkSync(g.kernel, join(dir, 'vmlinuz'));
    symlinkSync(g.initrd, join(dir, 'initrd.img'));
    const sb = tracked(
      await createSandbox(
        { ...caseConfig(c, dir), id: `fxvh-${process.pid}` },
        { runDir: base, logger: quietLogger, accelerator: 'tcg', netns: `/var/run/netns/${ns}` },
      ),
    );
    const err = await sb.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SandboxStartError);
    const cause = (err as SandboxStartError).cause;
    expect(cause).toBeInstanceOf(QemuVhostNetUnavailableError);
    // Not "no such tap": QEMU opened the tap inside the netns, then found no vhost-net.
    expect((cause as QemuVhostNetUnavailableError).stderr).not.toMatch(/could not configure \/dev\/net\/tun/);
    await sb.stopped;
    expect(leftovers(base)).toEqual([]);
  });

  it('amd64-q35-coldplug-net-fds: tap fds 4-5 and vhost fds 6-7 reach QEMU; vhost refused as typed, without vhost the guest sees the two-queue NIC', async () => {
    const c = fixture('amd64-q35-coldplug-net-fds');
    const net = caseConfig(c, work).devices?.find((d) => d.kind === 'net') as { mac: string };
    const ns = netns.add('mq');
    const tap = `lm${process.pid % 100000}`;
    execFileSync(IP, [
      'netns',
      'exec',
      ns,
      IP,
      'tuntap',
      'add',
      'dev',
      tap,
      'mode',
      'tap',
      'multi_queue',
      'vnet_hdr',
    ]);
    const dir = mkdtempSync(join(work, 'mq-'));
    const py = new URL('./launch-fixture-fds.py', import.meta.url).pathname;
    const child = new URL('./launch-fixture.child.ts', import.meta.url).pathname;
    const r = await runChild(IP, [
      'netns',
      'exec',
      ns,
      PYTHON,
      py,
      tap,
      process.execPath,
      '--import',
      'tsx',
      child,
      base,
      dir,
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out.trim().split('\n').pop() ?? '{}') as {
      vhost: {
        started: boolean;
        fds: { fd: number; hostFd?: number; purpose: string }[];
        code?: string;
        stderr?: string;
      };
      mq: { fds: { fd: number; purpose: string }[]; nics: { mac: string }[] };
    };
    expect(out.vhost.fds.map((f) => [f.hostFd ?? f.fd, f.purpose])).toEqual([
      [4, 'tap'],
      [5, 'tap'],
      [6, 'vhost-net'],
      [7, 'vhost-net'],
    ]);
    expect(out.vhost.started).toBe(false);
    expect(out.vhost.code).toBe('ERR_QEMU_VHOST_NET_UNAVAILABLE');
    expect(out.mq.fds.map((f) => f.purpose)).toEqual(['tap', 'tap']);
    expect(out.mq.nics.map((n) => n.mac)).toContain(net.mac);
    expect(leftovers(base)).toEqual([]);
  }, 120_000);
});
