// NIC hot-plug with a REAL tap device inside a network namespace this test creates:
// (1) QEMU runs in the netns (`ip netns exec`) and opens the tap itself (`netdev_add ifname=`);
// (2) the fd path: a helper inside the netns opens the tap and hot-plugs it via getfd (SCM_RIGHTS).
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HotplugInputError, HotplugRefusedError, runOperation } from '../../src/hotplug/index.js';
import { isRoot } from '../helpers/env.js';
import { cleanupVms, contextFor, launchVm, qmpView, recordedView, runState } from './hotplug-harness.js';

isRoot(); // ip netns and tap devices need root
const ns = `vmactor-hp-${process.pid}`;

function ipNs(...args: string[]): string {
  return execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
}

beforeEach(() => {
  execFileSync('ip', ['netns', 'add', ns]);
  ipNs('tuntap', 'add', 'dev', 'tap0', 'mode', 'tap');
  ipNs('link', 'set', 'tap0', 'up');
});

afterEach(async () => {
  await cleanupVms();
  execFileSync('ip', ['netns', 'delete', ns]);
});

describe('hot-plugging a NIC on a real tap device in a network namespace', () => {
  it('lets QEMU inside the netns open the tap by ifname, puts virtio-net-pci with MAC, mq and vectors on a bridge slot, and the tap gets a carrier', async () => {
    const vm = await launchVm({ netns: ns });
    const ctx = contextFor(vm);
    expect(ipNs('link', 'show', 'tap0')).toMatch(/NO-CARRIER/);
    const r = await runOperation(ctx, {
      kind: 'hotplug-net',
      id: 'n1',
      ifname: 'tap0',
      mac: '52:54:00:aa:bb:01',
    });
    expect(r).toEqual({
      kind: 'hotplug-net',
      id: 'n1',
      netdevId: 'net-n1',
      pciPath: '02/01',
      mac: '52:54:00:aa:bb:01',
      confirmedBy: 'qemu',
    });
    expect(await vm.qmp.execute('qom-get', { path: 'n1', property: 'netdev' })).toBe('net-n1');
    expect(await vm.qmp.execute('qom-get', { path: 'n1', property: 'mq' })).toBe(true);
    expect(await vm.qmp.execute('qom-get', { path: 'n1', property: 'vectors' })).toBe(4);
    // QEMU holds the tap open now: the carrier is up.
    expect(ipNs('link', 'show', 'tap0')).not.toMatch(/NO-CARRIER/);
    expect(await qmpView(vm)).toEqual(recordedView(ctx.state));

    // A second NIC on the same tap: QEMU's real refusal (busy) is typed, and the netdev and slot are undone.
    const err = await runOperation(ctx, { kind: 'hotplug-net', id: 'n2', ifname: 'tap0' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HotplugRefusedError);
    expect(err).toMatchObject({ step: 'netdev_add' });
    expect(Object.values(ctx.state.bridges[0]?.devices ?? {})).toEqual(['n1']);
    expect(await runState(vm)).toBe('prelaunch');
  });

  it('refuses a NIC without fds or ifname, or with a malformed MAC, before any QMP', async () => {
    const vm = await launchVm();
    const ctx = contextFor(vm);
    await expect(runOperation(ctx, { kind: 'hotplug-net', id: 'n1' })).rejects.toBeInstanceOf(
      HotplugInputError,
    );
    await expect(
      runOperation(ctx, { kind: 'hotplug-net', id: 'n1', ifname: 'tap0', mac: 'nope' }),
    ).rejects.toBeInstanceOf(HotplugInputError);
    expect(await qmpView(vm)).toEqual(recordedView(ctx.state));
  });

  it('passes a tap fd opened inside the netns over SCM_RIGHTS (getfd) and builds the netdev from the fd name', async () => {
    const helper = fileURLToPath(new URL('./hotplug-net-fd.child.ts', import.meta.url));
    ipNs('link', 'set', 'tap0', 'down');
    const child = spawn(
      'ip',
      ['netns', 'exec', ns, process.execPath, '--import', 'tsx', helper, 'tap1', '52:54:00:aa:bb:02'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        shell: false,
      },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    const report = JSON.parse(out.trim().split('\n').pop() ?? '{}');
    expect(report).toEqual({
      result: {
        kind: 'hotplug-net',
        id: 'nfd',
        netdevId: 'net-nfd',
        pciPath: '02/01',
        mac: '52:54:00:aa:bb:02',
        confirmedBy: 'qemu',
      },
      netdev: 'net-nfd',
      mq: true,
      vectors: 4,
      mac: '52:54:00:aa:bb:02',
      fdsets: [],
      carrier: true,
      link: true,
      phases: ['applied', 'confirmed'],
    });
  });
});
