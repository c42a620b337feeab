// createSandbox(config, { netns }): QEMU (and virtiofsd) start inside the given network namespace,
// with QEMU's pid staying QEMU's; a path that is not a network namespace is refused before launch.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { NetnsError } from '../../src/process/errors.js';
import { createSandbox } from '../../src/sandbox/create.js';
import { descendants, leftovers } from '../helpers/census.js';
import { guest, hostBinary, isRoot } from '../helpers/env.js';
import { IP, testNetns } from '../helpers/netns.js';
import { quietLogger, stopAll, tempRunBase, tracked } from './sandbox-fixtures.js';

isRoot();
const base = tempRunBase();
const shared = mkdtempSync('/tmp/vmactor-netns-share-');
const namespaces = testNetns('launch');
afterEach(async () => {
  await stopAll();
  namespaces.removeAll();
  expect(descendants()).toEqual([]);
});
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
  rmSync(shared, { recursive: true, force: true });
});

/** A namespace of this test's own; returns its file. */
function addNetns(suffix: string): string {
  return `/var/run/netns/${namespaces.add(suffix)}`;
}

/** `net:[inode]` of a namespace file, as /proc/PID/ns/net shows it. */
function nsId(path: string): string {
  return `net:[${statSync(path).ino}]`;
}

describe('starting a sandbox inside a network namespace', () => {
  it('runs QEMU and virtiofsd in the netns given, and getPids()[0] is that QEMU', async () => {
    const netns = addNetns('run');
    const g = guest('cloud');
    writeFileSync(join(shared, 'hello.txt'), 'hi');
    const sb = tracked(
      await createSandbox(
        {
          id: `ns-${process.pid}`,
          hypervisor: {
            kernelPath: g.kernel,
            initrdPath: g.initrd,
            memorySize: 256,
            sharedFS: 'virtio-fs',
            virtioFSDaemon: hostBinary('/usr/lib/qemu/virtiofsd'),
            virtioFSExtraArgs: ['-o', 'sandbox=chroot'],
          },
          devices: [{ kind: 'fs', type: 'virtio-fs', id: 'share0', tag: 'share0', sharedDir: shared }],
        },
        { runDir: base, logger: quietLogger, accelerator: 'tcg', netns },
      ),
    );
    await sb.start();
    const [qemuPid, virtiofsdPid] = sb.getPids();
    expect(qemuPid).toBeGreaterThan(0);
    expect(virtiofsdPid).toBeGreaterThan(0);
    const mine = readlinkSync('/proc/self/ns/net');
    expect(readlinkSync(`/proc/${qemuPid}/ns/net`)).toBe(nsId(netns));
    expect(nsId(netns)).not.toBe(mine);
    // virtiofsd too (its chroot sandbox keeps the namespace it was started in; the default
    // `sandbox=namespace` would unshare a fresh one).
    expect(readlinkSync(`/proc/${virtiofsdPid}/ns/net`)).toBe(nsId(netns));
    // The pid is QEMU itself (nsenter exec'd it), the one QEMU wrote in its pidfile.
    expect(readlinkSync(`/proc/${qemuPid}/exe`)).toMatch(/qemu-system-x86_64$/);
    expect(Number(readFileSync(sb.plan.paths.pidFile as string, 'utf8').trim())).toBe(qemuPid);
    await sb.check();
    expect((await sb.stop()).stopReason).toBe('requested');
    expect(leftovers(base)).toEqual([]);
  });

  it('opens a tap by name inside that netns (as Kata does), and the guest sees the NIC', async () => {
    const netns = addNetns('tap');
    const name = netns.split('/').pop() as string;
    const tap = `ln${process.pid % 100000}`;
    execFileSync(IP, ['netns', 'exec', name, IP, 'tuntap', 'add', 'dev', tap, 'mode', 'tap', 'vnet_hdr']);
    const g = guest('cloud');
    const mac = '02:00:0e:00:00:01';
    const sb = tracked(
      await createSandbox(
        {
          id: `nstap-${process.pid}`,
          hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 512 },
          devices: [{ kind: 'net', id: 'nic0', ifname: tap, mac, vhost: false }],
        },
        { runDir: base, logger: quietLogger, accelerator: 'tcg', netns },
      ),
    );
    await sb.start();
    const agent = await sb.agent();
    await agent.waitReady({ timeout: 60_000 });
    const nics = await agent.request('net', [], { timeout: 20_000 });
    expect(nics.map((n) => n.mac)).toContain(mac);
    // QEMU holds the tap: its carrier is up in the netns, where the host has no such interface.
    const link = execFileSync(IP, ['netns', 'exec', name, IP, '-o', 'link', 'show', tap], {
      encoding: 'utf8',
    });
    expect(link).not.toContain('NO-CARRIER');
    expect(() => execFileSync(IP, ['link', 'show', tap], { stdio: 'ignore' })).toThrow();
    expect((await sb.stop()).stopReason).toBe('requested');
  });

  it('refuses a netns path that is missing or not a network namespace, before anything is created', async () => {
    const g = guest('cloud');
    const config = {
      id: `nsbad-${process.pid}`,
      hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 256 },
    };
    const plainFile = join(shared, 'not-a-netns');
    writeFileSync(plainFile, '');
    for (const netns of [
      '/var/run/netns/vmactor-no-such-ns',
      plainFile,
      '/proc/self/ns/uts',
      'relative/ns',
    ]) {
      const err = await createSandbox(config, {
        runDir: base,
        logger: quietLogger,
        accelerator: 'tcg',
        netns,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(NetnsError);
      expect((err as NetnsError).code).toBe('ERR_NETNS');
      expect((err as NetnsError).path).toBe(netns);
    }
    expect(leftovers(base)).toEqual([]);
  });
});
