// Ten containers at once through containerd and the vmactor shim: ten VMs, each prints its own line, nothing left.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { processesMentioning, SHIM, startContainerd, type TestContainerd } from '../helpers/containerd.js';
import { guest } from '../helpers/env.js';

guest('cloud');
let cd: TestContainerd;
beforeAll(async () => {
  cd = await startContainerd(`par${process.pid}`);
}, 60_000);
afterAll(async () => {
  await cd?.stop();
});

it('runs 10 containers in parallel, each in its own VM, and each prints its own output', async () => {
  const ids = Array.from({ length: 10 }, (_, i) => `p${i}`);
  const results = await Promise.all(
    ids.map((id) =>
      cd.ctr(['run', '--rm', '--runtime', SHIM, '--rootfs', cd.rootfs, id, '/bin/echo', `hello from ${id}`], {
        timeoutMs: 400_000,
      }),
    ),
  );
  expect(results.map((r) => [r.exitCode, r.stdout])).toEqual(ids.map((id) => [0, `hello from ${id}`]));
  expect(await processesMentioning(cd.shimDir)).toEqual([]);
  for (const d of ['task', 'vm']) {
    const dir = join(cd.shimDir, d);
    expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  }
}, 450_000);
