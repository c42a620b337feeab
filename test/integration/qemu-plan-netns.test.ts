import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SandboxConfig } from '../../src/config/types.js';
import { classifyQemuStartError } from '../../src/qemu/devices/refusal.js';
import { planFromConfig } from '../golden/plan/plan-from-config.js';
import { descendants } from '../helpers/census.js';
import { guest, hostBinary, isRoot } from '../helpers/env.js';
import { EarlyExitError, launchWithQmp, syntheticGuest } from './qemu-plan-harness.js';
import { verifyPlanViaQmp } from './qemu-plan-verify.js';

const IP = hostBinary('ip');
const root = mkdtempSync(join(tmpdir(), 'vmactor-plan-netns-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
// Every QEMU and virtiofsd a test started is gone when it ends (killed by PID and reaped).
afterEach(() => expect(descendants()).toEqual([]));

isRoot(); // ip netns and tap devices need root
let counter = 0;
let ns = '';

function sandboxConfig(net: Record<string, unknown>): { config: SandboxConfig; runDir: string } {
  const dir = join(root, `case-${counter}`);
  const runDir = join(dir, 'run');
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const g = guest() ?? syntheticGuest('amd64', dir);
  return {
    runDir,
    config: {
      id: `netns${counter}`,
      hypervisor: {
        kernelPath: g.kernel,
        initrdPath: g.initrd,
        memorySize: 256,
        hypervisorMachineType: 'q35',
      },
      devices: [
        { kind: 'net', id: 'network-0', ifname: 'vmtap0', mac: '02:00:ca:fe:00:10', ...net },
      ] as SandboxConfig['devices'],
    },
  };
}

describe('tap NICs in a network namespace the test creates', () => {
  beforeEach(() => {
    counter++;
    ns = `vmactor-test-${process.pid}-${counter}`;
    execFileSync(IP as string, ['netns', 'add', ns]);
    execFileSync(IP as string, [
      'netns',
      'exec',
      ns,
      IP as string,
      'tuntap',
      'add',
      'dev',
      'vmtap0',
      'mode',
      'tap',
    ]);
  });
  afterEach(() => {
    execFileSync(IP as string, ['netns', 'del', ns]);
  });

  it('QEMU opens the planned tap by name and the NIC sits at its planned PCI slot', async () => {
    const { config, runDir } = sandboxConfig({ vhost: false });
    const plan = planFromConfig(config, { runDir, qmpFd: 3, hostCpus: 2, hostMemoryMiB: 4096 });
    const q = await launchWithQmp(plan.argv, { wrap: [IP as string, 'netns', 'exec', ns] });
    try {
      expect(await verifyPlanViaQmp(q.qmp, plan)).toBeGreaterThan(0);
      const rx = await q.qmp.execute<{ name: string; 'main-mac': string }[]>('query-rx-filter');
      expect(rx[0]?.['main-mac']).toBe('02:00:ca:fe:00:10');
    } finally {
      await q.kill();
    }
  });

  it('asks for vhost-net by default, and QEMU refusing it here becomes a typed vhost-net error', async () => {
    const { config, runDir } = sandboxConfig({});
    const plan = planFromConfig(config, { runDir, qmpFd: 3, hostCpus: 2, hostMemoryMiB: 4096 });
    const netdev = plan.argv[plan.argv.indexOf('-netdev') + 1] as string;
    expect(JSON.parse(netdev)).toMatchObject({
      type: 'tap',
      id: 'net-network-0',
      ifname: 'vmtap0',
      vhost: true,
    });
    let err: unknown;
    try {
      const q = await launchWithQmp(plan.argv, { wrap: [IP as string, 'netns', 'exec', ns] });
      await q.kill();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(EarlyExitError);
    expect(classifyQemuStartError((err as EarlyExitError).stderr).code).toBe(
      'ERR_QEMU_VHOST_NET_UNAVAILABLE',
    );
  });
});
