// A controller process the reattach tests SIGKILL: creates a sandbox (default guest, virtio-fs share, agent), brings
// it to the asked point, prints one JSON line with its pids, then waits to be killed.
// argv: <runBase> <id> <shareDir> <diskFile> <mode> [dumpDir]
//   running | paused: booted, share mounted in the guest, disk1 hot-plugged (then paused)
//   started: just started;  detach: started, then handed off (prints the handle and exits)
//   starting: stops itself (SIGSTOP) once QEMU wrote its pid file, while the sandbox is still `starting`
import { join } from 'node:path';
import { createSandbox } from '../../src/sandbox/create.js';
import { guest } from '../helpers/env.js';
import { freezeMidStart } from '../helpers/freeze-mid-start.js';
import { quietLogger } from './sandbox-fixtures.js';

const [runBase, id, share, disk, mode, dumpDir] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string | undefined,
];
const g = guest('cloud');
const sb = await createSandbox(
  {
    id,
    hypervisor: {
      kernelPath: g.kernel,
      initrdPath: g.initrd,
      memorySize: 512,
      sharedFS: 'virtio-fs',
      // With a dump dir, a guest panic pauses QEMU (pvpanic, -action panic=pause) until someone dumps it.
      ...(dumpDir ? { guestMemoryDumpPath: dumpDir } : {}),
      // loglevel=7: kernel messages (e.g. SCSI unplug) reach the console, so console$ after reattach has lines.
      kernelParams: [
        { key: 'console', value: 'hvc0' },
        { key: 'loglevel', value: '7' },
      ],
    },
    devices: [{ kind: 'fs', type: 'virtio-fs', id: 'fs0', tag: 'hostshare', sharedDir: share }],
  },
  { runDir: runBase, logger: quietLogger, accelerator: 'tcg', guestAgent: true },
);
const say = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
if (mode === 'starting') {
  // Frozen mid-start: the run dir exists and QEMU wrote its pid file, the start has not finished.
  freezeMidStart(runBase, id, sb, (s) => ({ runDir: s.runDir, phase: s.phase }));
} else {
  await sb.start();
  if (mode === 'running' || mode === 'paused') {
    const agent = await sb.agent();
    // A deadline, generous: in the full suite this guest boots under TCG beside many others.
    await agent.waitReady({ timeout: 150_000 });
    await agent.request('mount', ['virtiofs', 'hostshare', '/mnt/host'], { timeout: 30_000 });
    await sb.hotplug({ kind: 'block', id: 'disk1', file: disk });
    if (mode === 'paused') await sb.pause();
  }
  const [qemuPid, virtiofsdPid] = sb.getPids();
  const consoleLog = await sb.consoleLog();
  if (mode === 'detach') {
    const handle = await sb.detach();
    say({ handle, qemuPid, virtiofsdPid, runDir: join(runBase, id) });
    process.exit(0);
  }
  say({ ready: true, runDir: sb.runDir, qemuPid, virtiofsdPid, phase: sb.phase, consoleLog });
}
process.stdin.resume();
