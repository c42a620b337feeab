// Runs INSIDE the test's network namespace (`ip netns exec <ns> node --import tsx <this> <tap> <dir>`):
// opens /dev/net/tun here (so the tun file belongs to this netns), has python3 attach it to the tap
// with TUNSETIFF (Node has no ioctl; the inherited fd shares the open file), then hot-plugs a NIC
// into a bare QEMU through runOperation with that fd — getfd over SCM_RIGHTS, netdev_add fds=.
// Prints one JSON line: the operation result and what QEMU reports.
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { runOperation } from '../../src/hotplug/index.js';
import { cleanupVms, contextFor, launchVm } from './hotplug-harness.js';

const [tap, mac] = process.argv.slice(2) as [string, string];
const tun = openSync('/dev/net/tun', 'r+');
const attach = spawnSync(
  'python3',
  [
    '-c',
    // TUNSETIFF = 0x400454ca; IFF_TAP | IFF_NO_PI | IFF_VNET_HDR
    'import fcntl,struct,sys; fcntl.ioctl(3, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(), 0x0002 | 0x1000 | 0x4000))',
    tap,
  ],
  { stdio: ['ignore', 'inherit', 'inherit', tun] },
);
if (attach.status !== 0) throw new Error(`TUNSETIFF failed (${attach.status})`);
try {
  const vm = await launchVm();
  const ctx = contextFor(vm);
  const result = await runOperation(ctx, { kind: 'hotplug-net', id: 'nfd', fds: [tun], mac });
  const netdev = await vm.qmp.execute('qom-get', { path: 'nfd', property: 'netdev' });
  const mq = await vm.qmp.execute('qom-get', { path: 'nfd', property: 'mq' });
  const vectors = await vm.qmp.execute('qom-get', { path: 'nfd', property: 'vectors' });
  const macSeen = await vm.qmp.execute('qom-get', { path: 'nfd', property: 'mac' });
  const fdsets = await vm.qmp.execute('query-fdsets');
  // The tap exists in this (the test's) namespace, and QEMU's copy of the fd keeps its carrier up.
  const link = execFileSync('ip', ['-o', 'link', 'show', tap], { encoding: 'utf8' });
  process.stdout.write(
    `${JSON.stringify({ result, netdev, mq, vectors, mac: macSeen, fdsets, carrier: !link.includes('NO-CARRIER'), link: link.includes(`${tap}:`), phases: ctx.phases.map((p) => p.phase) })}\n`,
  );
  await cleanupVms();
} finally {
  closeSync(tun);
}
