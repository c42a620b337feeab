import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseDeviceSpec } from '../../src/config/devices.js';
import { KATA_KEY_MAP } from '../../src/config/kata-toml.js';
import { HYPERVISOR_KNOBS } from '../../src/config/knobs.js';
import { sandboxConfigJsonSchema } from '../../src/config/schema.js';
import { HYPERVISOR_KEYS, validateConfig } from '../../src/config/validate.js';
import { deviceSpecJsonSchema } from '../../src/devices/spec.js';

const HOST = { hostCpus: 8, hostMemoryMiB: 16384, arch: 'amd64' as const };
const ASSETS = { kernelPath: '/guest/vmlinuz', initrdPath: '/guest/initrd.img' };

interface JsonSchemaObject {
  type?: string;
  properties: Record<string, { description?: string; items?: unknown } & Record<string, unknown>>;
  required?: string[];
  additionalProperties?: boolean;
}

describe('the knob table', () => {
  it('is the one list of hypervisor keys', () =>
    expect([...HYPERVISOR_KEYS]).toEqual(Object.keys(HYPERVISOR_KNOBS)));
  it('gives every knob a one-line doc', () => {
    for (const [key, row] of Object.entries(HYPERVISOR_KNOBS)) {
      expect([key, row.doc.length > 10 && !row.doc.includes('\n')]).toEqual([key, true]);
    }
  });
  it('is where validateConfig takes each constant default from', () => {
    const h = validateConfig({ id: 'a', hypervisor: ASSETS }, HOST).hypervisor as Record<string, unknown>;
    let constants = 0;
    for (const [key, row] of Object.entries(HYPERVISOR_KNOBS)) {
      if (!('default' in row) || typeof row.default === 'function' || key === 'initrdPath') continue;
      constants++;
      expect([key, h[key]]).toEqual([key, row.default]);
    }
    expect(constants).toBeGreaterThan(40);
  });
  it('is where the Kata TOML key map comes from: one key per mapped knob, no knob twice', () => {
    const fromTable = Object.entries(HYPERVISOR_KNOBS).flatMap(([key, row]) =>
      'kata' in row && row.kata !== undefined ? [[row.kata, key]] : [],
    );
    expect(Object.entries(KATA_KEY_MAP).sort()).toEqual(fromTable.sort());
    expect(new Set(Object.values(KATA_KEY_MAP)).size).toBe(Object.keys(KATA_KEY_MAP).length);
    expect(KATA_KEY_MAP.default_vcpus).toBe('numVCPUs');
    expect(KATA_KEY_MAP.block_device_driver).toBe('blockDeviceDriver');
  });
  it('resolves a default that depends on another knob (msize9p on sharedFS)', () => {
    expect(validateConfig({ id: 'a', hypervisor: ASSETS }, HOST).hypervisor.msize9p).toBe(8192);
    expect(
      validateConfig({ id: 'a', hypervisor: { ...ASSETS, sharedFS: 'virtio-fs' } }, HOST).hypervisor.msize9p,
    ).toBe(0);
  });
});

describe('sandboxConfigJsonSchema', () => {
  const schema = sandboxConfigJsonSchema() as unknown as JsonSchemaObject & { $schema: string };
  const hypervisor = schema.properties.hypervisor as unknown as JsonSchemaObject;

  it('is a draft 2020-12 object schema of id, hypervisor and devices that refuses unknown keys', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(Object.keys(schema.properties).sort()).toEqual(['$schema', 'devices', 'hypervisor', 'id']);
    expect(schema.required).toEqual(['id']);
    expect(schema.additionalProperties).toBe(false);
  });
  it('describes every hypervisor knob with the doc of its table row', () => {
    expect(Object.keys(hypervisor.properties)).toEqual([...HYPERVISOR_KEYS]);
    for (const [key, row] of Object.entries(HYPERVISOR_KNOBS)) {
      expect(hypervisor.properties[key]?.description).toBe(row.doc);
    }
    expect(hypervisor.additionalProperties).toBe(false);
  });
  it('uses the DeviceSpec JSON Schema for devices', () => {
    const { $schema: _ignored, ...device } = deviceSpecJsonSchema();
    expect(schema.properties.devices?.items).toEqual(device);
  });
  it('accepts kernelParams in both the string and the array form, as validateConfig does', () => {
    const validator = z.fromJSONSchema(schema as unknown as Parameters<typeof z.fromJSONSchema>[0]);
    for (const kernelParams of ['a=1 quiet', [{ key: 'a', value: '1' }, { key: 'quiet' }]]) {
      const input = { id: 'a', hypervisor: { ...ASSETS, kernelParams } };
      expect(validateConfig(input, HOST).hypervisor.kernelParams[0]).toEqual({ key: 'a', value: '1' });
      expect(validator.safeParse(input).success).toBe(true);
    }
  });
  it('refuses, as a JSON Schema validator, what validateConfig refuses for its structure', () => {
    const validator = z.fromJSONSchema(schema as unknown as Parameters<typeof z.fromJSONSchema>[0]);
    for (const input of [
      { id: 'a', hypervisor: { numVCPUs: 'two' } },
      { id: 'a', hypervisor: { bogus: 1 } },
      { id: 'a', devices: [{ kind: 'gpu', id: 'g' }] },
      { id: 'a', devices: [{ kind: 'block', id: 'd', file: '/a', cache: 'none' }] },
      { id: 'a', devices: [{ kind: 'rng', id: 'r', extra: true }] },
      { hypervisor: {} },
    ]) {
      expect(() => validateConfig(input, { ...HOST, defaults: ASSETS })).toThrow();
      expect([input, validator.safeParse(input).success]).toEqual([input, false]);
    }
  });
});

describe('parseDeviceSpec (the check hot plug shares)', () => {
  it('returns the parsed spec', () =>
    expect(parseDeviceSpec({ kind: 'block', id: 'd0', file: '/a.img', shareRW: true })).toEqual({
      ok: true,
      device: { kind: 'block', id: 'd0', file: '/a.img', shareRW: true },
    }));
  it('words its issues like the config does, under the given path', () => {
    const r = parseDeviceSpec({ kind: 'block', id: 'd0', file: 'rel.img' }, 'device');
    expect(r).toEqual({
      ok: false,
      issues: [
        { path: 'device.file', message: 'Expected `device.file` to be an absolute path, got `"rel.img"`' },
      ],
    });
    const inConfig = (() => {
      try {
        validateConfig(
          { id: 'a', hypervisor: ASSETS, devices: [{ kind: 'block', id: 'd0', file: 'rel.img' }] },
          HOST,
        );
      } catch (err) {
        return (err as { issues: { message: string }[] }).issues[0]?.message;
      }
      return undefined;
    })();
    expect(inConfig).toBe('Expected `devices[0].file` to be an absolute path, got `"rel.img"`');
  });
});
