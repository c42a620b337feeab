// Runs INSIDE the test's network namespace (`ip netns exec <ns> node --import tsx <this> <tap> <mac> <runBase>`):
// opens /dev/net/tun here (a tun file belongs to the netns it was opened in), has python3 attach it
// to the tap with TUNSETIFF (Node has no ioctl; the inherited fd shares the open file), then boots
// the default guest through createSandbox with a cold-plugged NIC on that fd and asks the guest
// agent which NICs it sees. Prints one JSON line.
import { closeSync } from 'node:fs';
import { pino } from 'pino';
import { createSandbox } from '../../src/sandbox/create.js';
import { guest } from '../helpers/env.js';
import { openTapFd } from '../helpers/tap-fd.js';

const [tap, mac, runBase, id] = process.argv.slice(2) as [string, string, string, string];
const tun = openTapFd(tap);
const g = guest('cloud');
try {
  const sb = await createSandbox(
    {
      id,
      hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 512 },
      devices: [{ kind: 'net', id: 'nic0', mac, fds: [tun], vhost: false }],
    },
    { runDir: runBase, logger: pino({ level: 'silent' }), accelerator: 'tcg' },
  );
  const planned = sb.plan.fds ?? [];
  let out: Record<string, unknown> = { tun, planned, argv: sb.plan.argv };
  try {
    await sb.start();
    const agent = await sb.agent();
    await agent.waitReady({ timeout: 60_000 });
    const nics = await agent.request('net', [], { timeout: 20_000 });
    out = { ...out, nics, qemuPid: sb.getPids()[0] };
  } finally {
    const stop = await sb.stop();
    out = { ...out, stopReason: stop.stopReason };
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
} finally {
  closeSync(tun);
}
