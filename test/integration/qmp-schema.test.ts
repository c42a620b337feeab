// The live schema check: commands are validated against the running QEMU's own `query-qmp-schema`
// before they are written — through the public client and through a sandbox made by createSandbox.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  QmpClient,
  type QmpMessage,
  QmpSchemaError,
  qmpSchemaCacheStats,
  takeQmpSchemaViolations,
} from '../../src/qmp/index.js';
import { guest, hostBinary, QEMU } from '../helpers/env.js';
import { createTracked, freshId, quietLogger, stopAll, tempRunBase } from './sandbox-fixtures.js';

const dir = mkdtempSync('/tmp/vmactor-qmp-schema-');
const base = tempRunBase();
let children: ChildProcess[] = [];

afterEach(async () => {
  await stopAll();
  await Promise.all(
    children.map((c) => {
      if (c.exitCode !== null || c.signalCode !== null) return undefined;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      return exited;
    }),
  );
  children = [];
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(base, { recursive: true, force: true });
});

/** A bare `-S` QEMU with QMP on fd 3; `trace` makes QEMU log every command it receives there. */
function launch(binary = QEMU, opts: { machine?: string; trace?: string } = {}): Socket {
  const args = ['-S', '-display', 'none', '-nodefaults', '-machine', opts.machine ?? 'q35,accel=tcg'];
  if (opts.trace) args.push('-trace', 'enable=handle_qmp_command', '-D', opts.trace);
  args.push('-chardev', 'socket,id=mon0,fd=3', '-mon', 'chardev=mon0,mode=control');
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  children.push(child);
  const sock = child.stdio[3];
  if (!(sock instanceof Socket)) throw new Error('QEMU monitor socket missing');
  return sock;
}

/** The command names QEMU's `handle_qmp_command` trace saw, in order. */
function commandsQemuSaw(traceFile: string): string[] {
  return [...readFileSync(traceFile, 'utf8').matchAll(/req: \{"execute": "([^"]+)"/g)].map((m) => m[1] ?? '');
}

describe('QMP commands checked against the live QEMU schema', () => {
  it('A command with an unknown argument is refused with QmpSchemaError before QEMU sees it', async () => {
    const trace = join(dir, 'trace-unknown.log');
    const qmp = await QmpClient.connect(launch(QEMU, { trace }), { schemaCheck: true });
    const err = await qmp.executeUntyped('stop', { now: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpSchemaError);
    expect(err).toMatchObject({ code: 'ERR_QMP_SCHEMA', command: 'stop', paths: ['arguments.now'] });
    expect((err as QmpSchemaError).message).toMatch(/`stop`.*arguments\.now: unknown member/);
    expect(takeQmpSchemaViolations().map((e) => [e.command, e.paths])).toEqual([['stop', ['arguments.now']]]);
    // The connection is unaffected, and QEMU received every command but the refused one.
    await expect(qmp.execute('query-status')).resolves.toMatchObject({ status: 'prelaunch' });
    const seen = commandsQemuSaw(trace);
    expect(seen).toContain('query-status');
    expect(seen).not.toContain('stop');
    qmp.close();
  });

  it('A sandbox made by createSandbox checks its commands: a wrong nested member type is refused and QEMU answers nothing for it', async () => {
    const g = guest('cloud');
    const sb = await createTracked(
      { id: freshId('qmps'), hypervisor: { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 256 } },
      { runDir: base, logger: quietLogger, accelerator: 'tcg' },
    );
    await sb.start();
    const qmp = sb.qmp;
    if (!qmp) throw new Error('a running sandbox has a QMP client');
    // The suite-wide switch is on: the sandbox's own client was given the schema on connect.
    expect(qmp.schema).toBeDefined();
    const seen: QmpMessage[] = [];
    const sub = qmp.messages$.subscribe((m) => seen.push(m));
    const bad = qmp.executeUntyped('blockdev-add', {
      driver: 'raw',
      'node-name': 'bad0',
      file: { driver: 'file', filename: 42 },
    });
    await expect(bad).rejects.toMatchObject({
      name: 'QmpSchemaError',
      command: 'blockdev-add',
      paths: ['arguments.file.filename'],
    });
    expect(takeQmpSchemaViolations()).toHaveLength(1);
    await qmp.execute('query-status');
    sub.unsubscribe();
    // QEMU answers commands in order: had blockdev-add reached it, its reply would come first.
    expect(seen.filter((m) => 'return' in m || 'error' in m)).toEqual([
      expect.objectContaining({ return: expect.objectContaining({ status: 'running' }) }),
    ]);
    await sb.stop();
  });

  it('Flat unions, enums, alternates, integer ranges and qdev properties are checked against the live schema', async () => {
    const qmp = await QmpClient.connect(launch(), { schemaCheck: true });
    const schema = qmp.schema;
    if (!schema) throw new Error('schema check is on');
    // blockdev-add: BlockdevOptions' `file` branch, nested in the raw branch's `file` (BlockdevRef).
    expect(
      schema.check('blockdev-add', {
        driver: 'raw',
        'node-name': 'n',
        file: { driver: 'file', filename: 'f', aio: 'fast' },
      }),
    ).toEqual(['arguments.file.aio: `fast` is not one of threads|native|io_uring']);
    // The same `file` member as a node name (BlockdevRef's string alternative) is fine.
    expect(schema.check('blockdev-add', { driver: 'raw', 'node-name': 'n', file: 'other-node' })).toEqual([]);
    expect(schema.check('blockdev-add', { driver: 'raw', 'node-name': 'n', file: 7 })).toEqual([
      'arguments.file: expected object or string, got number',
    ]);
    expect(schema.check('blockdev-del', { node: 'x' })).toEqual([
      'arguments.node-name: required member missing',
      'arguments.node: unknown member',
    ]);
    expect(
      schema.check('migrate-set-capabilities', {
        capabilities: [{ capability: 'x-ignore-shared', state: 'on' }],
      }),
    ).toEqual(['arguments.capabilities[0].state: expected bool, got string']);
    expect(schema.check('balloon', { value: '1024' })).toEqual(['arguments.value: expected int, got string']);
    expect(schema.check('no-such-command', undefined)).toEqual([
      'execute: unknown command `no-such-command`',
    ]);
    // device_add: QAPI lists driver/bus/id only; the rest are the driver's qdev properties, which
    // the client loads (device-list-properties) on the first device_add of that driver.
    const err = await qmp
      .executeUntyped('device_add', { driver: 'virtio-blk-pci', id: 'x', drive: 'd', 'share-rw': 'on' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_QMP_SCHEMA', paths: ['arguments.share-rw'] });
    expect(
      schema.check('device_add', { driver: 'virtio-blk-pci', id: 'x', drive: 'd', 'no-such-prop': 1 }),
    ).toEqual(['arguments.no-such-prop: `virtio-blk-pci` has no property `no-such-prop`']);
    expect(takeQmpSchemaViolations().map((e) => e.command)).toEqual(['device_add']);
    qmp.close();
  });

  it("A device_add whose driver's properties are still loading keeps its place: the next command sees the device", async () => {
    const qmp = await QmpClient.connect(launch(QEMU, { machine: 'pc,accel=tcg' }), { schemaCheck: true });
    expect(qmp.schema?.unloadedDriver('device_add', { driver: 'virtio-rng-pci' })).toBe('virtio-rng-pci');
    // Not awaited: device_add waits for device-list-properties, query-pci is issued right after.
    const added = qmp.execute('device_add', { driver: 'virtio-rng-pci', id: 'rng7' });
    const pci = qmp.execute('query-pci');
    await added;
    const devices = (await pci).flatMap((bus) => bus.devices);
    expect(devices.some((d) => d.qdev_id === 'rng7')).toBe(true);
    qmp.close();
  });

  it('The schema is fetched once per QEMU build and target, not once per connection', async () => {
    const before = qmpSchemaCacheStats();
    const clients = await Promise.all(
      [launch(), launch(), launch()].map((s) => QmpClient.connect(s, { schemaCheck: true })),
    );
    const mid = qmpSchemaCacheStats();
    expect(mid.fetches - before.fetches).toBeLessThanOrEqual(1);
    expect(mid.fetches - before.fetches + (mid.hits - before.hits)).toBe(3);
    expect(new Set(clients.map((c) => c.schema)).size).toBe(1);
    // Another target of the same QEMU version has its own schema.
    const arm = await QmpClient.connect(launch(hostBinary('qemu-system-aarch64'), { machine: 'none' }), {
      schemaCheck: true,
    });
    expect(qmpSchemaCacheStats().fetches - mid.fetches).toBe(1);
    expect(arm.schema).toBeDefined();
    expect(arm.schema).not.toBe(clients[0]?.schema);
    for (const c of [...clients, arm]) c.close();
  });
});
