// Runs INSIDE the test's network namespace (`ip netns exec <ns> node --import tsx <this> <mode> <tap> <mac>`),
// so the sandbox's QEMU runs there too: creates a sandbox with createSandbox (default guest, agent),
// hot-plugs a NIC on the tap — by `ifname` (QEMU opens it) or by a tap fd opened here (getfd over
// SCM_RIGHTS) — checks QMP and the guest, unplugs it, stops. Prints one JSON line: what it saw.
import { execFileSync } from 'node:child_process';
import { closeSync, rmSync } from 'node:fs';
import type { HotplugResult } from '../../src/hotplug/index.js';
import { createSandbox } from '../../src/sandbox/create.js';
import { guest } from '../helpers/env.js';
import { openTapFd } from '../helpers/tap-fd.js';
import { quietLogger, tempRunBase } from './sandbox-fixtures.js';

const [mode, tap, mac] = process.argv.slice(2) as ['ifname' | 'fd', string, string];
const tun = mode === 'fd' ? openTapFd(tap) : undefined;
const g = guest('cloud');
const base = tempRunBase();
const sb = await createSandbox(
  {
    id: `hpnet-${process.pid}`,
    hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 512 },
  },
  { runDir: base, logger: quietLogger, accelerator: 'tcg', guestAgent: true },
);
try {
  await sb.start();
  const agent = await sb.agent();
  await agent.waitReady({ timeout: 60_000 });
  const qmp = sb.qmp;
  if (!qmp) throw new Error('no QMP client');
  const carrierBefore = !execFileSync('ip', ['-o', 'link', 'show', tap], { encoding: 'utf8' }).includes(
    'NO-CARRIER',
  );
  const device =
    mode === 'fd'
      ? { kind: 'net' as const, id: 'n1', fds: [tun as number], mac, vhost: false }
      : { kind: 'net' as const, id: 'n1', ifname: tap, mac, vhost: false };
  const result = (await sb.operate({ kind: 'hotplug', device })) as HotplugResult;
  const props = {
    netdev: await qmp.execute('qom-get', { path: 'n1', property: 'netdev' }),
    mq: await qmp.execute('qom-get', { path: 'n1', property: 'mq' }),
    vectors: await qmp.execute('qom-get', { path: 'n1', property: 'vectors' }),
    mac: await qmp.execute('qom-get', { path: 'n1', property: 'mac' }),
  };
  const carrier = !execFileSync('ip', ['-o', 'link', 'show', tap], { encoding: 'utf8' }).includes(
    'NO-CARRIER',
  );
  const guestSaw = (await agent.request('net', [])).some((n) => n.mac === mac);
  // A second NIC on the same tap by name: QEMU's real refusal (busy), typed and rolled back.
  const second = await sb
    .operate({ kind: 'hotplug', device: { kind: 'net', id: 'n2', ifname: tap, vhost: false } })
    .then(
      () => null,
      (e: unknown) => ({ name: (e as Error).name, step: (e as { step?: string }).step }),
    );
  const unplug = await sb.operate({ kind: 'unplug', id: 'n1' });
  const guestAfter = (await agent.request('net', [])).some((n) => n.mac === mac);
  const netdevs = (await qmp.execute('qom-list', { path: '/machine/peripheral' })).map((p) => p.name);
  const stop = await sb.stop();
  process.stdout.write(
    `${JSON.stringify({ result, props, carrierBefore, carrier, guestSaw, second, unplug, guestAfter, leftDevices: netdevs.filter((n) => n === 'n1' || n === 'n2'), stopReason: stop.stopReason })}\n`,
  );
} finally {
  await sb.stop();
  if (tun !== undefined) closeSync(tun);
  rmSync(base, { recursive: true, force: true });
}
