// The VM factory against real QEMU and the default guest (TCG): a template-based cache handing out clones, refilling, hot-adding, closing clean.
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxConfig } from '../../src/config/types.js';
import { FactoryClosedError, FactoryConfigError } from '../../src/factory/errors.js';
import { createVmFactory } from '../../src/factory/factory.js';
import type { Template } from '../../src/sandbox/template/template-file.js';
import { descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { createTracked, freshId, quietLogger, stopAll, tempRunBase, tracked } from './sandbox-fixtures.js';

const g = guest('cloud');
const base = tempRunBase();
const shm = mkdtempSync('/dev/shm/vmactor-test-factory-');
afterEach(stopAll);
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
  rmSync(shm, { recursive: true, force: true });
});

const hv = { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 256, defaultMaxVCPUs: 2 } as const;
const sandboxOpts = { runDir: base, logger: quietLogger, accelerator: 'tcg' as const, guestAgent: true };

function cfg(id: string, extra: SandboxConfig['hypervisor'] = {}): SandboxConfig {
  return { id, hypervisor: { ...hv, ...extra } };
}

let template: Template;
beforeAll(async () => {
  const tpl = await createTracked(cfg(freshId('ftpl'), { bootToBeTemplate: true }), {
    ...sandboxOpts,
    templateDir: shm,
  });
  await tpl.start();
  const agent = await tpl.agent();
  await agent.waitReady({ timeout: 60_000 });
  await agent.request('write-file', ['/tmp/marker', 'from-the-template']);
  template = await tpl.saveTemplate(shm);
}, 120_000);

describe('createVmFactory (template base, real QEMU)', () => {
  it('keeps cacheSize clones ready, hands one out at once, refills, hot-adds vCPUs, and stops what it holds at close', async () => {
    const factory = createVmFactory({
      base: 'template',
      template,
      config: cfg(freshId('fac')),
      cacheSize: 2,
      concurrency: 2,
      sandbox: sandboxOpts,
    });
    await factory.filled();
    const pooled = factory.status();
    expect(pooled).toHaveLength(2);
    for (const vm of pooled) expect(vm).toMatchObject({ vcpus: 1, memoryMiB: 256 });
    expect(pooled.every((vm) => vm.pid > 0)).toBe(true);

    const first = tracked(await factory.get({ id: 'job-1' }));
    expect(first.phase).toBe('running');
    const agent = await first.agent();
    expect((await agent.readFile('/tmp/marker')).toString()).toBe('from-the-template');
    expect(factory.status().map((vm) => vm.pid)).not.toContain(first.getPids()[0]);

    const second = tracked(await factory.get({ id: 'job-2', vcpus: 2 }));
    const cpus = await (await second.agent()).request('online-cpus', [2], { timeout: 30_000 });
    expect(cpus.online).toBe(2);

    await factory.filled();
    expect(factory.status()).toHaveLength(2);
    await factory.close();
    expect(factory.status()).toHaveLength(2); // the last snapshot; its VMs are stopped
    await expect(factory.get()).rejects.toBeInstanceOf(FactoryClosedError);
    await Promise.all([first.stop(), second.stop()]);
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });

  it('with an empty cache (cacheSize 0, direct base) get() starts a VM itself', async () => {
    const factory = createVmFactory({
      base: 'direct',
      config: cfg(freshId('dir')),
      cacheSize: 0,
      sandbox: sandboxOpts,
    });
    await factory.filled();
    expect(factory.status()).toEqual([]);
    const sb = tracked(await factory.get());
    expect(await (await sb.agent()).request('ping', [])).toMatchObject({ pong: true });
    await sb.stop();
    await factory.close();
    expect(descendants()).toEqual([]);
    expect(leftovers(base)).toEqual([]);
  });

  it('refuses bad options with FactoryConfigError before starting anything', () => {
    expect(() => createVmFactory({ base: 'template', config: cfg('x'), cacheSize: 1 })).toThrow(
      FactoryConfigError,
    );
    expect(() => createVmFactory({ base: 'direct', config: cfg('x'), cacheSize: -1 })).toThrow(
      FactoryConfigError,
    );
    expect(() => createVmFactory({ base: 'direct', config: cfg('../x'), cacheSize: 1 })).toThrow(
      FactoryConfigError,
    );
    expect(descendants()).toEqual([]);
  });
});
