// VM template logic that needs no QEMU: the config hash, clone configs and deltas, the QEMU version gate, template.json.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/validate.js';
import { cloneDeltas, templateConfigOf } from '../../src/sandbox/template/boot.js';
import { templatePlanFacts } from '../../src/sandbox/template/config-hash.js';
import { TemplateFileError, TemplateMismatchError } from '../../src/sandbox/template/errors.js';
import { olderThan, parseQemuVersion, TEMPLATE_MIN_QEMU } from '../../src/sandbox/template/qemu-version.js';
import { readTemplate, type Template, writeTemplateFile } from '../../src/sandbox/template/template-file.js';

const host = { accelerator: 'tcg' as const, hostCpus: 2, hostMemoryMiB: 8192 };
const hv = { kernelPath: '/k/vmlinuz', initrdPath: '/k/initrd', memorySize: 256 };
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const tpl = validateConfig({
  id: 'tpl',
  hypervisor: { ...hv, bootToBeTemplate: true, memoryPath: '/dev/shm/t/memory' },
});

function template(): Template {
  const dir = mkdtempSync(join(tmpdir(), 'vmactor-tpl-unit-'));
  dirs.push(dir);
  return {
    version: 1,
    dir,
    qemu: { version: '7.2.19', package: 'Debian' },
    machine: 'q35',
    arch: 'amd64',
    config: tpl,
    configHash: templatePlanFacts(tpl, host).hash,
    memoryFile: 'memory',
    stateFile: 'devices.state',
    memoryMiB: 256,
    vcpus: 1,
    stateBytes: 1,
    memoryBytes: 1,
    createdAt: new Date(0).toISOString(),
  };
}

describe('VM template logic (pure)', () => {
  it('hashes a clone config like its template, ignoring id, paths and the template fields', () => {
    const t = template();
    const clone = validateConfig(templateConfigOf({ id: 'other-id', hypervisor: hv }, { template: t }));
    expect(clone.hypervisor).toMatchObject({
      bootFromTemplate: true,
      devicesStatePath: join(t.dir, 'devices.state'),
    });
    expect(templatePlanFacts(clone, host).hash).toBe(t.configHash);
    const different = validateConfig(
      templateConfigOf({ id: 'c', hypervisor: { ...hv, defaultBridges: 2 } }, { template: t }),
    );
    expect(templatePlanFacts(different, host).hash).not.toBe(t.configHash);
  });

  it('defaults a template VM’s memoryPath into its template dir', () => {
    const c = templateConfigOf(
      { id: 'a', hypervisor: { ...hv, bootToBeTemplate: true } },
      { templateDir: '/dev/shm/x' },
    );
    expect(c.hypervisor?.memoryPath).toBe('/dev/shm/x/memory');
    const d = templateConfigOf({ id: 'a', hypervisor: { ...hv, bootToBeTemplate: true } }, {});
    expect(d.hypervisor?.memoryPath).toBe('/dev/shm/vmactor-templates/a/memory');
  });

  it('computes the vCPU/memory a clone hot-adds, and refuses fewer than the template has', () => {
    const t = template();
    expect(cloneDeltas({ id: 'c', hypervisor: { ...hv, numVCPUs: 2, memorySize: 512 } }, t)).toEqual({
      vcpus: 1,
      memoryMiB: 256,
      targetVcpus: 2,
      targetMemoryMiB: 512,
    });
    expect(() =>
      cloneDeltas({ id: 'c', hypervisor: { ...hv, memorySize: 256 } }, { ...t, memoryMiB: 512 }),
    ).toThrow(TemplateMismatchError);
  });

  it('reads QEMU versions and gates templating at 4.1', () => {
    expect(parseQemuVersion('QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)')).toEqual({
      major: 7,
      minor: 2,
      micro: 19,
    });
    expect(parseQemuVersion('nonsense')).toBeUndefined();
    expect(olderThan({ major: 4, minor: 0, micro: 9 }, TEMPLATE_MIN_QEMU)).toBe(true);
    expect(olderThan({ major: 4, minor: 1, micro: 0 }, TEMPLATE_MIN_QEMU)).toBe(false);
  });

  it('writes template.json atomically (no temp file left) and reads it back; a foreign file is a TemplateFileError', async () => {
    const t = template();
    await writeTemplateFile(t);
    expect(readdirSync(t.dir)).toEqual(['template.json']);
    expect(await readTemplate(t.dir)).toEqual(t);
    writeFileSync(join(t.dir, 'template.json'), '{"version":2}');
    await expect(readTemplate(t.dir)).rejects.toBeInstanceOf(TemplateFileError);
    await expect(readTemplate(join(t.dir, 'nope'))).rejects.toBeInstanceOf(TemplateFileError);
  });
});
