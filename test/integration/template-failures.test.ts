// VM template failure paths against real QEMU: a truncated or missing state file, an unwritable state target, STOP during a save, mismatched or refused configs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import type { SandboxConfig } from '../../src/config/types.js';
import { createSandbox } from '../../src/sandbox/create.js';
import { OperationAbortedError, SandboxStartError } from '../../src/sandbox/errors.js';
import type { SandboxMigrationEvent } from '../../src/sandbox/events.js';
import {
  MigrationFailedError,
  TemplateInputError,
  TemplateMismatchError,
  TemplateStateError,
} from '../../src/sandbox/template/errors.js';
import { type Template, templatePaths } from '../../src/sandbox/template/template-file.js';
import { descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { createTracked, freshId, quietLogger, stopAll, tempRunBase } from './sandbox-fixtures.js';

const g = guest('cloud');
const base = tempRunBase();
const shm = mkdtempSync('/dev/shm/vmactor-test-tplf-');
afterEach(stopAll);
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
  rmSync(shm, { recursive: true, force: true });
});

const hv = { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 256, defaultMaxVCPUs: 2 } as const;
const opts = { runDir: base, logger: quietLogger, accelerator: 'tcg' as const };

function cfg(id: string, extra: SandboxConfig['hypervisor'] = {}): SandboxConfig {
  return { id, hypervisor: { ...hv, ...extra } };
}

function expectClean(): void {
  expect(descendants()).toEqual([]);
  expect(leftovers(base)).toEqual([]);
}

/** A template VM booted to its guest agent, not yet saved. */
async function bootTemplateVm(dir: string) {
  const tpl = await createTracked(cfg(freshId('tpl'), { bootToBeTemplate: true }), {
    ...opts,
    templateDir: dir,
  });
  await tpl.start();
  await (await tpl.agent()).waitReady({ timeout: 60_000 });
  return tpl;
}

let template: Template;
beforeAll(async () => {
  const dir = mkdtempSync(`${shm}/t-`);
  template = await (await bootTemplateVm(dir)).saveTemplate(dir);
}, 120_000);

/** The template with its state file replaced by `bytes` (in a dir of its own; the memory file is shared). */
function withState(bytes: Buffer | undefined): Template {
  const dir = mkdtempSync(`${shm}/s-`);
  if (bytes) writeFileSync(join(dir, 'devices.state'), bytes);
  return { ...template, dir, memoryFile: templatePaths(template).memoryPath, stateFile: 'devices.state' };
}

describe('VM template failures (real QEMU)', () => {
  it('a truncated state file fails the clone start with a TemplateStateError carrying QEMU’s message, stop reason start-failed, nothing left', async () => {
    const full = readFileSync(templatePaths(template).statePath);
    const broken = withState(full.subarray(0, Math.floor(full.length / 2)));
    const clone = await createTracked(cfg(freshId('trunc')), { ...opts, template: broken });
    const err = await clone.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SandboxStartError);
    const cause = (err as SandboxStartError).cause;
    expect(cause).toBeInstanceOf(TemplateStateError);
    expect((cause as TemplateStateError).code).toBe('ERR_TEMPLATE_STATE');
    expect((cause as TemplateStateError).qemuMessage).toMatch(/migration|load|vmstate|section/i);
    expect((await clone.stopped).stopReason).toBe('start-failed');
    expectClean();
  });

  it('a missing state file fails the clone start with a TemplateStateError, nothing left', async () => {
    const clone = await createTracked(cfg(freshId('missing')), { ...opts, template: withState(undefined) });
    const err = await clone.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as SandboxStartError).cause).toBeInstanceOf(TemplateStateError);
    expect((await clone.stopped).stopReason).toBe('start-failed');
    expectClean();
  });

  it('a state target that cannot be written fails the save with a `failed` migration event and MigrationFailedError; the template VM still stops', async () => {
    const memDir = mkdtempSync(`${shm}/m-`);
    const tiny = mkdtempSync('/tmp/vmactor-test-tiny-');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k,mode=0700', 'tmpfs', tiny]);
    try {
      const tpl = await bootTemplateVm(memDir);
      const events: SandboxMigrationEvent[] = [];
      tpl.events$.subscribe((e) => {
        if (e.type === 'migration') events.push(e);
      });
      const err = await tpl.saveTemplate(tiny).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MigrationFailedError);
      expect((err as MigrationFailedError).code).toBe('ERR_MIGRATION_FAILED');
      expect(events.at(-1)).toMatchObject({ direction: 'outgoing', status: 'failed' });
      expect(existsSync(join(tiny, 'template.json'))).toBe(false);
      expect(tpl.phase).toBe('paused');
      expect((await tpl.stop()).stopReason).toBe('requested');
      // Nothing saved, nothing kept: no partial state file, no guest memory left on tmpfs.
      expect(leftovers(tiny)).toEqual([]);
      expect(leftovers(memDir)).toEqual([]);
    } finally {
      execFileSync('umount', [tiny]);
      rmSync(tiny, { recursive: true, force: true });
    }
    expectClean();
  });

  it('STOP during a save cancels it: saveTemplate rejects with OperationAbortedError and the VM stops cleanly', async () => {
    const dir = mkdtempSync(`${shm}/c-`);
    const tpl = await bootTemplateVm(dir);
    let stopping: ReturnType<typeof tpl.stop> | undefined;
    tpl.events$.subscribe((e) => {
      if (e.type === 'migration' && !stopping) stopping = tpl.stop();
    });
    const err = await tpl.saveTemplate(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OperationAbortedError);
    const out = await tpl.stopped;
    expect(out.stopReason).toBe('requested');
    expect(out.exit).toEqual({ code: 0, signal: null });
    expect(leftovers(dir)).toEqual([]);
    expectClean();
  });

  it('saveTemplate refuses a sandbox not made to become a template, or one not running, with TemplateInputError', async () => {
    const plain = await createTracked(cfg(freshId('plain')), opts);
    await expect(plain.saveTemplate(join(shm, 'never'))).rejects.toBeInstanceOf(TemplateInputError);
    const notStarted = await createTracked(cfg(freshId('idle'), { bootToBeTemplate: true }), {
      ...opts,
      templateDir: join(shm, 'idle'),
    });
    await expect(notStarted.saveTemplate()).rejects.toMatchObject({ code: 'ERR_TEMPLATE_INPUT' });
    expect(existsSync(join(shm, 'never'))).toBe(false);
    await Promise.all([plain.stop(), notStarted.stop()]);
    expectClean();
  });

  it('refuses a clone whose config does not match the template with TemplateMismatchError, before anything launches', async () => {
    await expect(
      createSandbox(cfg(freshId('mismatch'), { defaultBridges: 2 }), { ...opts, template }),
    ).rejects.toBeInstanceOf(TemplateMismatchError);
    await expect(
      createSandbox(cfg(freshId('smaller'), { memorySize: 256, numVCPUs: 1 }), {
        ...opts,
        template: { ...template, memoryMiB: 512 },
      }),
    ).rejects.toBeInstanceOf(TemplateMismatchError);
    expectClean();
  });

  it('checks a clone given only the seeds’ fields (bootFromTemplate, memoryPath, devicesStatePath) against the template.json beside its state file', async () => {
    const { memoryPath, statePath } = templatePaths(template);
    const seeds = { bootFromTemplate: true, memoryPath, devicesStatePath: statePath };
    await expect(
      createSandbox(cfg(freshId('seeds-bad'), { ...seeds, defaultBridges: 2 }), opts),
    ).rejects.toBeInstanceOf(TemplateMismatchError);
    const good = await createTracked(cfg(freshId('seeds-ok'), seeds), opts);
    await good.start();
    expect(await (await good.agent()).request('ping', [])).toMatchObject({ pong: true });
    await good.stop();
    expectClean();
  });

  it('refuses templating with virtio-fs, vhost-user, virtio-mem or free-page reporting with one ConfigError before launch', async () => {
    const share = mkdtempSync('/tmp/vmactor-test-share-');
    const err = await createSandbox(
      {
        id: freshId('refuse'),
        hypervisor: { ...hv, bootToBeTemplate: true, virtioMem: true },
        devices: [
          { kind: 'fs', type: 'virtio-fs', id: 'share0', tag: 'share', sharedDir: share },
          { kind: 'vhost-user', type: 'blk', id: 'vu0', socketPath: '/tmp/vu.sock' },
          { kind: 'balloon', id: 'balloon0', freePageReporting: true },
        ],
      },
      { ...opts, templateDir: join(shm, 'refused') },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    rmSync(share, { recursive: true, force: true });
    expect(err).toBeInstanceOf(ConfigError);
    const paths = (err as ConfigError).issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'hypervisor.virtioMem',
        'devices[0]',
        'devices[1]',
        'devices[2].freePageReporting',
      ]),
    );
    expect(existsSync(join(shm, 'refused'))).toBe(false);
    expectClean();
  });
});
