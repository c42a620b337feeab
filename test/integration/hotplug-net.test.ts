// NIC hot plug on a REAL tap device inside a network namespace this test creates. A helper runs in
// the netns and makes the sandbox there with createSandbox, so QEMU is in the netns: (1) QEMU opens
// the tap by `ifname`; (2) the helper opens the tap and passes its fd (getfd over SCM_RIGHTS).
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HotplugInputError, HotplugNotSupportedError, type HotplugResult } from '../../src/hotplug/index.js';
import { descendants, leftovers } from '../helpers/census.js';
import { isRoot } from '../helpers/env.js';
import { cleanupFiles, fails, image, runBase, startSandbox } from './hotplug-fixtures.js';
import { stopAll } from './sandbox-fixtures.js';

isRoot(); // ip netns and tap devices need root
const ns = `vmactor-hpn-${process.pid}`;
const helper = fileURLToPath(new URL('./hotplug-net.child.ts', import.meta.url));

function ipNs(...args: string[]): string {
  return execFileSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
}

beforeEach(() => {
  execFileSync('ip', ['netns', 'add', ns]);
});
afterEach(async () => {
  await stopAll();
  execFileSync('ip', ['netns', 'delete', ns]);
  expect(descendants()).toEqual([]);
  expect(leftovers(runBase)).toEqual([]);
});
afterAll(cleanupFiles);

async function inNetns(mode: 'ifname' | 'fd', tap: string, mac: string): Promise<Record<string, unknown>> {
  const child = spawn(
    'ip',
    ['netns', 'exec', ns, process.execPath, '--import', 'tsx', helper, mode, tap, mac],
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
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

const seen = (mac: string) => ({
  props: { netdev: 'net-n1', mac },
  guestSaw: true,
  second: { name: 'HotplugRefusedError', step: 'netdev_add' },
  unplug: { kind: 'unplug', id: 'n1', removed: true, pending: false },
  guestAfter: false,
  leftDevices: [],
  stopReason: 'requested',
});

describe('hot-plugging a NIC on a real tap device in a network namespace', () => {
  it('lets QEMU inside the netns open the tap by ifname: virtio-net-pci with the MAC on a bridge slot, the tap gets a carrier, the guest the NIC, and a second NIC on the busy tap is refused and rolled back', async () => {
    ipNs('tuntap', 'add', 'dev', 'tap0', 'mode', 'tap');
    ipNs('link', 'set', 'tap0', 'up');
    const report = await inNetns('ifname', 'tap0', '52:54:00:aa:bb:01');
    expect(report).toMatchObject({
      result: {
        kind: 'hotplug',
        id: 'n1',
        placement: { bus: 'pci-bridge-0', addr: '01', pciPath: '02/01', bridgeSlot: true },
        confirmedBy: 'guest',
      },
      carrierBefore: false,
      carrier: true,
      ...seen('52:54:00:aa:bb:01'),
    });
    expect((report.result as { guestPath?: string }).guestPath).toMatch(/^eth\d$/);
  });

  it('passes a tap fd opened inside the netns over SCM_RIGHTS (getfd) and builds the netdev from the fd name', async () => {
    const report = await inNetns('fd', 'tap1', '52:54:00:aa:bb:02');
    expect(report).toMatchObject({
      result: { kind: 'hotplug', id: 'n1', placement: { pciPath: '02/01' }, confirmedBy: 'guest' },
      carrier: true,
      ...seen('52:54:00:aa:bb:02'),
    });
  });

  it('refuses a NIC without fds or ifname, with a malformed MAC, or wanting vhost-net this host lacks, before any QMP', async () => {
    const h = await startSandbox();
    const none = await fails(h.sb, { kind: 'hotplug', device: { kind: 'net', id: 'n1' } });
    expect(none).toBeInstanceOf(HotplugInputError);
    expect((none as HotplugInputError).issues[0]).toMatch(/`device.ifname` to be set, or `fds` instead/);
    const mac = await fails(h.sb, {
      kind: 'hotplug',
      device: { kind: 'net', id: 'n1', ifname: 'tap0', mac: 'nope' },
    });
    expect((mac as HotplugInputError).issues[0]).toMatch(/^Expected `device\.mac` to be a MAC address/);
    // QEMU 7.2 would abort on netdev_add vhost=on without /dev/vhost-net (absent here): refused first.
    const vhost = await fails(h.sb, { kind: 'hotplug', device: { kind: 'net', id: 'n1', ifname: 'tap0' } });
    expect(vhost).toBeInstanceOf(HotplugNotSupportedError);
    expect((vhost as HotplugNotSupportedError).message).toMatch(/\/dev\/vhost-net/);
    expect(h.sb.phase).toBe('running');
    const next = (await h.sb.operate({
      kind: 'hotplug',
      device: { kind: 'block', id: 'b1', file: image(h, 'b.img') },
    })) as HotplugResult;
    expect(next.placement.pciPath).toBe('02/01');
  });
});
