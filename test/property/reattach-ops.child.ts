// The controller the kill property drives: creates a sandbox (default guest), then runs one operation per stdin line
// (`{"i":0,"op":"pause"}`), printing `{"began":i}` before, `{"applied":"opI"}` when QEMU accepted it, `{"done":i}` after; the test SIGKILLs it anywhere.
// argv: <runBase> <id> <diskDir> <startMode>; startMode `freeze-in-start` stops itself (SIGSTOP) mid-start.
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createSandbox } from '../../src/sandbox/create.js';
import { guest } from '../helpers/env.js';
import { freezeMidStart } from '../helpers/freeze-mid-start.js';
import { quietLogger } from '../integration/sandbox-fixtures.js';

const [runBase, id, diskDir, startMode] = process.argv.slice(2) as [string, string, string, string];
const g = guest('cloud');
const sb = await createSandbox(
  {
    id,
    hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 512, defaultMaxVCPUs: 2 },
  },
  { runDir: runBase, logger: quietLogger, accelerator: 'tcg' },
);
const say = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);
if (startMode === 'freeze-in-start') {
  freezeMidStart(runBase, id, sb);
} else {
  await sb.start();
  say({ started: true, qemuPid: sb.getPids()[0], runDir: sb.runDir });
  const run = async (op: string, n: number, i: number): Promise<unknown> => {
    switch (op) {
      case 'pause':
        return sb.pause();
      case 'resume':
        return sb.resume();
      case 'plug':
        return sb.hotplug({ kind: 'block', id: `d${n}`, file: join(diskDir, `d${n}.img`) }, { id: `op${i}` });
      case 'unplug':
        return sb.unplug(`d${n}`, { id: `op${i}` });
      case 'vcpus':
        return sb.resizeVCPUs(n, { id: `op${i}` });
      case 'stop':
        return sb.stop();
    }
    return undefined;
  };
  // Phase one of an operation done (QEMU accepted it): a kill point inside a hot plug.
  sb.events$.subscribe((e) => {
    if (e.type === 'operation' && e.phase === 'applied') say({ applied: e.id });
  });
  let chain = Promise.resolve();
  createInterface({ input: process.stdin }).on('line', (line) => {
    const { i, op, n } = JSON.parse(line) as { i: number; op: string; n: number };
    chain = chain.then(async () => {
      say({ began: i });
      const error = await run(op, n, i).then(
        () => undefined,
        (e: unknown) => (e as Error).name,
      );
      say({ done: i, ...(error ? { error } : {}) });
    });
  });
}
