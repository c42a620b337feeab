// The operation slot of the sandbox (where src/hotplug plugs in): operations run one at a time
// through the provider with the live QMP client; refusals and STOP pre-emption are typed by class.
import { rmSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { SandboxOperation } from '../../machines/sandbox.types.js';
import {
  OperationAbortedError,
  OperationCapacityError,
  OperationNotActiveError,
  SandboxInputError,
} from '../../src/sandbox/errors.js';
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
    sb.events$.subscribe((e) => {
      if (e.type === 'operation') phases.push(`${e.id}:${e.phase}`);
    });
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
    expect(err).toBeInstanceOf(OperationCapacityError);
    expect(err).toMatchObject({ code: 'ERR_OPERATION_NO_CAPACITY', operationId: 'op-1' });
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
    expect(early).toBeInstanceOf(OperationNotActiveError);
    await sb.start();
    const pending = sb.operate(disk('slow')).catch((e: unknown) => e);
    const queued = sb.operate(disk('next')).catch((e: unknown) => e);
    await sb.stop();
    expect(aborted).toBe(true);
    expect(await pending).toBeInstanceOf(OperationAbortedError);
    expect(await queued).toBeInstanceOf(OperationAbortedError);
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });

  it('refuses an invalid device spec before anything is queued, listing every problem', async () => {
    let ran = false;
    const sb = openTracked(bareSpec(QEMU as string), {
      runDir: base,
      logger: quietLogger,
      operations: {
        run: async () => {
          ran = true;
        },
      },
    });
    await sb.start();
    const requested: string[] = [];
    sb.events$.subscribe((e) => {
      if (e.type === 'operation') requested.push(e.id);
    });
    const bad = { kind: 'block', id: '1bad', file: 'relative.img', extra: true } as unknown as Parameters<
      typeof sb.hotplug
    >[0];
    const err = await sb.hotplug(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxInputError);
    const issues = (err as SandboxInputError).issues.map((i) => i.path);
    expect(issues).toEqual(['device.id', 'device.file', 'device.extra']);
    expect((err as SandboxInputError).message).toContain(
      'Expected `device.file` to be an absolute path, got `"relative.img"`',
    );
    const count = await sb.resizeVCPUs(-1).catch((e: unknown) => e);
    expect(count).toMatchObject({ code: 'ERR_SANDBOX_INPUT', issues: [{ path: 'count' }] });
    expect(requested).toEqual([]);
    expect(ran).toBe(false);
    await sb.stop();
  });
});
