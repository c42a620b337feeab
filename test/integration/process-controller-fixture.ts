// A controller process for the survival test: starts a guest-less sandbox, prints its QEMU pid and
// run dir as one JSON line, then waits to be killed.
import { openSandbox } from '../../src/sandbox/sandbox.js';
import { bareSpec, quietLogger } from './sandbox-fixtures.js';

const [qemu, base, id] = process.argv.slice(2);
const sb = openSandbox(bareSpec(qemu as string, { id: id as string }), {
  runDir: base as string,
  logger: quietLogger,
});
await sb.start();
process.stdout.write(
  `${JSON.stringify({ pid: sb.getPids()[0], runDir: sb.runDir, qmpSocket: sb.plan.paths.qmpSocket })}\n`,
);
setInterval(() => {}, 1 << 30);
