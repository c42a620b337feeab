// Runs INSIDE the test's network namespace with fds 4 and 5 two queues of a multiqueue tap and
// fds 6 and 7 stand-ins for vhost-net fds (/dev/null: this host has no /dev/vhost-net), as
// launch-fixture-fds.py arranges. Launches the golden fixture `amd64-q35-coldplug-net-fds` through
// createSandbox as it is (QEMU must refuse the vhost fds), then without vhost (the guest must see
// the two-queue NIC). `node --import tsx <this> <runBase> <dir>`; prints one JSON line.
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import type { SandboxConfig } from '../../src/config/types.js';
import { createSandbox } from '../../src/sandbox/create.js';
import { caseConfig, loadPlanCases } from '../golden/plan/cases.js';
import { guest } from '../helpers/env.js';

const [runBase, dir] = process.argv.slice(2) as [string, string];
const g = guest('cloud');
symlinkSync(g.kernel, join(dir, 'vmlinuz'));
symlinkSync(g.initrd, join(dir, 'initrd.img'));
const c = loadPlanCases().find((x) => x.name === 'amd64-q35-coldplug-net-fds');
if (!c) throw new Error('fixture amd64-q35-coldplug-net-fds is missing');
const fixture = caseConfig(c, dir);
const logger = pino({ level: 'silent' });
const opts = { runDir: runBase, logger, accelerator: 'tcg' as const };

async function asIs(): Promise<Record<string, unknown>> {
  const sb = await createSandbox({ ...fixture, id: `fx-vhost-${process.pid}` }, opts);
  const fds = sb.plan.fds;
  try {
    await sb.start();
    return { started: true, fds };
  } catch (err) {
    const cause = (err as { cause?: { name?: string; code?: string; stderr?: string } }).cause;
    return { started: false, fds, name: cause?.name, code: cause?.code, stderr: cause?.stderr };
  } finally {
    await sb.stop();
  }
}

async function withoutVhost(): Promise<Record<string, unknown>> {
  const devices = (fixture.devices ?? []).map((d) => {
    if (d.kind !== 'net') return d;
    const { vhostFds: _drop, ...rest } = d;
    return { ...rest, vhost: false };
  });
  const config: SandboxConfig = { ...fixture, id: `fx-mq-${process.pid}`, devices };
  const sb = await createSandbox({ ...config, hypervisor: { ...config.hypervisor, memorySize: 512 } }, opts);
  try {
    await sb.start();
    const agent = await sb.agent();
    await agent.waitReady({ timeout: 60_000 });
    return { fds: sb.plan.fds, nics: await agent.request('net', [], { timeout: 20_000 }) };
  } finally {
    await sb.stop();
  }
}

const vhost = await asIs();
const mq = await withoutVhost();
process.stdout.write(`${JSON.stringify({ vhost, mq })}\n`);
