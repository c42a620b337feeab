// The operation slot of the sandbox (where the hot-plug layer, src/hotplug, plugs in): operations run one at
// a time through the provider with the live QMP client; refusals and STOP pre-emption are typed.
import { rmSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { OperationEmitted, SandboxOperation } from '../../machines/sandbox.types.js';
import { SandboxOperationError } from '../../src/sandbox/errors.js';
import type { OperationProvider } from '../../src/sandbox/spec.js';
import { descendants, leftovers } from '../helpers/census.js';
import { QEMU } from '../helpers/env.js';
import { bareSpec, openTracked, quietLogger, stopAll, tempRunBase } from './sandbox-fixtures.js';

const base = tempRunBase();
afterEach(stopAll);
afterAll(() => rmSync(base, { recursive: true, force: true }));

const disk = (id: string): SandboxOperation => ({
  kind: 'hotplug',
  device: { kind: 'block', id, file: '/dev/null' },
});

describe('sandbox operations', () => {
  it('run through the provider with the live QMP client, one at a time, reporting every phase', async () => {
    let running = 0;
    let maxRunning = 0;
    const provider: OperationProvider = {
      async run(input, ctx) {
        running += 1;
        maxRunning = Math.max(maxRunning, running);
        const status = await ctx.qmp.execute('query-status');
        input.reportApplied();
        await ctx.qmp.execute('query-status');
        running -= 1;
        return { id: input.id, status: status.status };
      },
    };
    const sb = openTracked(bareSpec(QEMU as string), {
      runDir: base,
      logger: quietLogger,
      operations: provider,
    });
    const phases: string[] = [];
    sb.actor.on('operation', (e: OperationEmitted) => phases.push(`${e.id}:${e.phase}`));
    await sb.start();
    const results = await Promise.all([
      sb.operate(disk('a'), { id: 'a' }),
      sb.operate(disk('b'), { id: 'b' }),
      sb.operate(disk('c'), { id: 'c' }),
    ]);
    expect(results).toEqual([
      { id: 'a', status: 'running' },
      { id: 'b', status: 'running' },
      { id: 'c', status: 'running' },
    ]);
    expect(maxRunning).toBe(1);
    expect(phases.filter((p) => p.startsWith('a:'))).toEqual(['a:requested', 'a:applied', 'a:confirmed']);
    await sb.stop();
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });

  it('refuses an operation the provider has no capacity for, before running it', async () => {
    let ran = false;
    const provider: OperationProvider = {
      run: async () => {
        ran = true;
      },
      hasCapacity: () => false,
    };
    const sb = openTracked(bareSpec(QEMU as string), {
      runDir: base,
      logger: quietLogger,
      operations: provider,
    });
    await sb.start();
    const err = await sb.operate(disk('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxOperationError);
    expect((err as SandboxOperationError).reason).toBe('ERR_NO_CAPACITY');
    expect(ran).toBe(false);
    await sb.stop();
  });

  it('refuses operations before start, and STOP pre-empts a running one (its signal fires)', async () => {
    let aborted = false;
    const provider: OperationProvider = {
      run: (_input, ctx) =>
        new Promise((_, reject) => {
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            reject(new Error('pre-empted'));
          });
        }),
    };
    const sb = openTracked(bareSpec(QEMU as string), {
      runDir: base,
      logger: quietLogger,
      operations: provider,
    });
    const early = await sb.operate(disk('early')).catch((e: unknown) => e);
    expect((early as SandboxOperationError).reason).toBe('ERR_SANDBOX_NOT_ACTIVE');
    await sb.start();
    const pending = sb.operate(disk('slow')).catch((e: unknown) => e);
    const queued = sb.operate(disk('next')).catch((e: unknown) => e);
    await sb.stop();
    expect(aborted).toBe(true);
    expect(((await pending) as SandboxOperationError).reason).toBe('ERR_OPERATION_ABORTED');
    expect(((await queued) as SandboxOperationError).reason).toBe('ERR_OPERATION_ABORTED');
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });
});
