import { type ChildProcess, spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qmpCommandSamples } from '../../src/qmp/command-samples.js';
import { QmpClient, QmpSchema, QmpSchemaMismatchError } from '../../src/qmp/index.js';
import { QEMU } from '../helpers/env.js';

// libvirt-style schema check: every command shape the project sends (the sample table in
// src/qmp/command-samples.ts) is validated against the running QEMU's own `query-qmp-schema`.

let child: ChildProcess | undefined;
let qmp: QmpClient;
let schema: QmpSchema;

describe('QMP command shapes against the real QEMU schema', () => {
  beforeAll(async () => {
    child = spawn(
      QEMU!,
      [
        '-S',
        '-display',
        'none',
        '-nodefaults',
        '-machine',
        'q35,accel=tcg',
        '-chardev',
        'socket,id=mon0,fd=3',
        '-mon',
        'chardev=mon0,mode=control',
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] },
    );
    const sock = child.stdio[3];
    if (!(sock instanceof Socket)) throw new Error('QEMU monitor socket missing');
    qmp = await QmpClient.connect(sock);
    schema = await QmpSchema.fetch(qmp);
    await schema.loadDeviceProperties(
      qmp,
      qmpCommandSamples.flatMap((s) =>
        s.command === 'device_add' && typeof s.args?.driver === 'string' && !s.targets ? [s.args.driver] : [],
      ),
    );
  });

  afterAll(async () => {
    qmp?.close();
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  });

  it.each(qmpCommandSamples.map((s) => [s.title, s] as const))(
    'The sample "%s" matches the schema',
    (_t, s) => {
      expect(schema.check(s.command, s.args)).toEqual([]);
    },
  );

  it('Every typed command exists in this QEMU', () => {
    const missing = [...new Set(qmpCommandSamples.map((s) => s.command))].filter(
      (c) => !schema.commands.includes(c),
    );
    expect(missing).toEqual([]);
  });

  it('An integer sent as a string is reported as a mismatch', () => {
    expect(schema.check('balloon', { value: '1024' })).toEqual(['arguments.value: expected int, got string']);
  });

  it('A boolean sent as "on" is reported for a QAPI member and for a qdev property', () => {
    expect(
      schema.check('migrate-set-capabilities', {
        capabilities: [{ capability: 'x-ignore-shared', state: 'on' }],
      }),
    ).toEqual(['arguments.capabilities[0].state: expected bool, got string']);
    expect(
      schema.check('device_add', { driver: 'virtio-blk-pci', id: 'x', drive: 'd', 'share-rw': 'on' }),
    ).toEqual(['arguments.share-rw: expected bool, got string']);
  });

  it('Unknown members, missing members, bad enum values and unknown commands are reported', () => {
    expect(schema.check('blockdev-del', { node: 'x' })).toEqual([
      'arguments.node-name: required member missing',
      'arguments.node: unknown member',
    ]);
    expect(
      schema.check('blockdev-add', {
        driver: 'raw',
        'node-name': 'n',
        file: { driver: 'file', filename: 'f', aio: 'fast' },
      }),
    ).toEqual(['arguments.file.aio: `fast` is not one of threads|native|io_uring']);
    expect(
      schema.check('device_add', { driver: 'virtio-blk-pci', id: 'x', drive: 'd', 'no-such-prop': 1 }),
    ).toEqual(['arguments.no-such-prop: `virtio-blk-pci` has no property `no-such-prop`']);
    expect(schema.check('no-such-command', undefined)).toEqual(['unknown command `no-such-command`']);
  });

  it('A client with the schema as its validator refuses a bad command before sending it', async () => {
    const child2 = spawn(
      QEMU!,
      [
        '-S',
        '-display',
        'none',
        '-nodefaults',
        '-machine',
        'q35,accel=tcg',
        '-chardev',
        'socket,id=mon0,fd=3',
        '-mon',
        'chardev=mon0,mode=control',
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] },
    );
    try {
      const sock = child2.stdio[3];
      if (!(sock instanceof Socket)) throw new Error('QEMU monitor socket missing');
      const checked = await QmpClient.connect(sock, {
        commandValidator: (c, a) => (c === 'qmp_capabilities' ? undefined : schema.assertValid(c, a)),
      });
      await expect(checked.executeUntyped('balloon', { value: 'lots' })).rejects.toBeInstanceOf(
        QmpSchemaMismatchError,
      );
      await expect(checked.execute('query-status')).resolves.toMatchObject({ status: 'prelaunch' });
      checked.close();
    } finally {
      const exited = new Promise((r) => child2.once('exit', r));
      child2.kill('SIGKILL');
      await exited;
    }
  });
});
