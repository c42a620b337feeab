// A QEMU binary the kernel refuses to exec (ENOEXEC): createSandbox plans it, start() rejects with
// the spawn's typed error, and nothing is left (no process, no run dir, no fd of ours).
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SpawnError } from '../../src/process/errors.js';
import { createSandbox } from '../../src/sandbox/create.js';
import { SandboxStartError } from '../../src/sandbox/errors.js';
import { descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { freshId, quietLogger, tempRunBase } from './sandbox-fixtures.js';

const g = guest('cloud');
const base = tempRunBase();
const bin = mkdtempSync(join(tmpdir(), 'vmactor-noexec-'));
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
  rmSync(bin, { recursive: true, force: true });
});

describe('a QEMU that cannot be exec’d', () => {
  it('rejects start() with SpawnError (ENOEXEC) and leaves no process, run dir or fd', async () => {
    const fake = join(bin, 'qemu-system-x86_64');
    writeFileSync(fake, 'not a program\n');
    chmodSync(fake, 0o755);
    const fds = readdirSync('/proc/self/fd').length;
    const sb = await createSandbox(
      {
        id: freshId('noexec'),
        hypervisor: { hypervisorPath: fake, kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 512 },
      },
      { runDir: base, logger: quietLogger, accelerator: 'tcg' },
    );
    const err = await sb.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxStartError);
    const cause = (err as SandboxStartError).cause;
    expect(cause).toBeInstanceOf(SpawnError);
    expect((cause as SpawnError).cause).toMatchObject({ code: 'ENOEXEC' });
    expect((await sb.stopped).stopReason).toBe('start-failed');
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
    expect(readdirSync('/proc/self/fd').length).toBe(fds);
  });
});
