// One controller process taking vsock CIDs under a shared run base (`node --import tsx <this> <base> <id> <n>`):
// prints `ready`, waits for a `go` line on stdin (so several children claim at once), claims n
// CIDs, prints them as one JSON line, and holds them until its stdin closes.
import { vsockCidLease } from '../../src/process/vsock-cid.js';

const [base, id, n] = process.argv.slice(2) as [string, string, string];
const lease = vsockCidLease(base, id);
let started = false;
process.stdin.on('data', () => {
  if (started) return;
  started = true;
  const cids: number[] = [];
  for (let i = 0; i < Number(n); i++) cids.push(lease.claim());
  process.stdout.write(`${JSON.stringify(cids)}\n`);
});
process.stdin.once('end', () => {
  lease.release();
  process.exit(0);
});
process.stdout.write('ready\n');
