import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstValueFrom, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  QmpClient,
  QmpCommandError,
  QmpDisconnectedError,
  type QmpEvent,
  takeQmpSchemaViolations,
} from '../../src/qmp/index.js';
import { QEMU } from '../helpers/env.js';

const BASE = ['-S', '-display', 'none', '-nodefaults', '-machine', 'q35,accel=tcg'];
const MONITOR = ['-chardev', 'socket,id=mon0,fd=3', '-mon', 'chardev=mon0,mode=control'];

let children: ChildProcess[] = [];
let dir: string;

/** Launches QEMU with its QMP monitor on fd 3 (a socketpair), as the sandbox layer does. */
function launch(extra: string[] = []): { child: ChildProcess; socket: Socket } {
  const child = spawn(QEMU!, [...BASE, ...extra, ...MONITOR], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const socket = child.stdio[3];
  if (!(socket instanceof Socket)) throw new Error('QEMU monitor socket missing');
  return { child, socket };
}

async function connect(extra: string[] = []): Promise<{ child: ChildProcess; qmp: QmpClient }> {
  const { child, socket } = launch(extra);
  // The schema check is on for every real QEMU here (explicitly, whatever the environment says).
  return { child, qmp: await QmpClient.connect(socket, { schemaCheck: true }) };
}

function exited(child: ChildProcess): Promise<unknown> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', r));
}

describe('QmpClient against real QEMU 7.2', () => {
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vmactor-qmp-'));
  });

  afterEach(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await exited(c);
    }
    children = [];
    rmSync(dir, { recursive: true, force: true });
  });

  it('Negotiation exposes the QEMU version and the offered capabilities', async () => {
    const { qmp } = await connect();
    expect(qmp.version.qemu).toMatchObject({ major: 7, minor: 2 });
    expect(qmp.version.package).toMatch(/\S/);
    expect(qmp.capabilities).toContain('oob');
    await expect(qmp.execute('query-status')).resolves.toEqual({
      status: 'prelaunch',
      running: false,
      singlestep: false,
    });
    qmp.close();
    await expect(qmp.closed).resolves.toEqual({ reason: 'closed', expected: true });
  });

  it('A client reattaches through the second monitor on a Unix path', async () => {
    const path = join(dir, 'qmp.sock');
    const { child } = launch(['-qmp', `unix:${path},server=on,wait=off`]);
    const first = await QmpClient.connect(child.stdio[3] as Socket);
    // The path exists once QEMU has created its monitors; the first monitor answering proves that.
    expect(statSync(path).isSocket()).toBe(true);
    const second = await QmpClient.connectUnix(path);
    expect(second.version).toEqual(first.version);
    await expect(second.execute('query-status')).resolves.toMatchObject({ status: 'prelaunch' });
    second.close();
    first.close();
  });

  it('Many commands in flight are answered by id, each with its own reply', async () => {
    const { qmp } = await connect();
    const names = Array.from({ length: 200 }, (_, i) => (i % 2 ? 'query-status' : 'query-version'));
    const replies = await Promise.all(
      names.map((n) => (n === 'query-status' ? qmp.execute('query-status') : qmp.execute('query-version'))),
    );
    replies.forEach((r, i) => {
      if (i % 2) expect(r).toMatchObject({ status: 'prelaunch' });
      else expect(r).toMatchObject({ qemu: { major: 7 } });
    });
    expect(qmp.pendingCount).toBe(0);
  });

  it('cont and stop are confirmed by RESUME and STOP events with QEMU timestamps', async () => {
    const { qmp } = await connect();
    const before = Date.now();
    const resumed = await qmp.executeAndWaitFor('cont', undefined, (e) => e.event === 'RESUME', {
      timeoutMs: 10_000,
    });
    expect(resumed.result).toEqual({});
    const stopped = await qmp.executeAndWaitFor('stop', undefined, (e) => e.event === 'STOP', {
      timeoutMs: 10_000,
    });
    expect(stopped.event.data).toEqual({});
    const t = stopped.event.timestamp.getTime();
    expect(t).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(t).toBeLessThanOrEqual(Date.now() + 1000);
    expect(stopped.event.timestamp.getTime()).toBeGreaterThanOrEqual(resumed.event.timestamp.getTime());
    await expect(qmp.execute('query-status')).resolves.toMatchObject({ status: 'paused', running: false });
  });

  it('The read-only queries return their QEMU 7.2 shapes', async () => {
    const { qmp } = await connect([
      '-smp',
      '1,sockets=2,cores=1,threads=1,maxcpus=2',
      '-m',
      '128M,slots=2,maxmem=1G',
      '-device',
      'virtio-scsi-pci,id=scsi0',
    ]);
    const pci = await qmp.execute('query-pci');
    expect(pci[0]?.devices.some((d) => d.qdev_id === 'scsi0')).toBe(true);
    await expect(qmp.execute('query-block')).resolves.toEqual([]);
    const chardevs = await qmp.execute('query-chardev');
    expect(chardevs.map((c) => c.label)).toContain('mon0');
    const cpus = await qmp.execute('query-hotpluggable-cpus');
    expect(cpus).toHaveLength(2);
    expect(cpus.filter((c) => c['qom-path'] === undefined)[0]).toMatchObject({
      type: 'qemu64-x86_64-cpu',
      'vcpus-count': 1,
      props: { 'socket-id': 1, 'core-id': 0, 'thread-id': 0 },
    });
    const fast = await qmp.execute('query-cpus-fast');
    expect(fast).toHaveLength(1);
    expect(fast[0]).toMatchObject({ 'cpu-index': 0, target: 'x86_64' });
    await expect(qmp.execute('query-memory-devices')).resolves.toEqual([]);
    await expect(qmp.execute('query-migrate')).resolves.toEqual({});
  });

  it('A CPU, a DIMM and a virtio-mem device are hotplugged and visible in the queries', async () => {
    const { qmp } = await connect([
      '-smp',
      '1,sockets=2,cores=1,threads=1,maxcpus=2',
      '-m',
      '128M,slots=2,maxmem=1G',
      '-device',
      'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x3',
    ]);
    await qmp.execute('device_add', {
      driver: 'qemu64-x86_64-cpu',
      id: 'cpu-1',
      'socket-id': 1,
      'core-id': 0,
      'thread-id': 0,
    });
    await expect(qmp.execute('query-cpus-fast')).resolves.toHaveLength(2);
    await qmp.execute('object-add', {
      'qom-type': 'memory-backend-ram',
      id: 'mem1',
      size: 128 * 1024 * 1024,
    });
    await qmp.execute('device_add', { driver: 'pc-dimm', id: 'dimm1', memdev: 'mem1' });
    await qmp.execute('object-add', {
      'qom-type': 'memory-backend-ram',
      id: 'mem2',
      size: 256 * 1024 * 1024,
    });
    await qmp.execute('device_add', {
      driver: 'virtio-mem-pci',
      id: 'vm0',
      memdev: 'mem2',
      bus: 'rp0',
      'requested-size': 0,
    });
    await qmp.execute('qom-set', { path: 'vm0', property: 'requested-size', value: 128 * 1024 * 1024 });
    await expect(qmp.execute('qom-get', { path: 'vm0', property: 'requested-size' })).resolves.toBe(
      128 * 1024 * 1024,
    );
    const mem = await qmp.execute('query-memory-devices');
    expect(mem.map((m) => [m.type, m.data.id])).toEqual([
      ['dimm', 'dimm1'],
      ['virtio-mem', 'vm0'],
    ]);
    await expect(qmp.execute('query-memory-size-summary')).resolves.toMatchObject({
      'plugged-memory': 128 * 1024 * 1024,
    });
  });

  it('A block node with cache options backs a hotplugged SCSI disk whose removal emits DEVICE_DELETED', async () => {
    const { qmp } = await connect(['-device', 'virtio-scsi-pci,id=scsi0']);
    const img = join(dir, 'disk.img');
    writeFileSync(img, Buffer.alloc(1024 * 1024));
    await qmp.execute('blockdev-add', {
      driver: 'raw',
      'node-name': 'drive-0',
      'read-only': false,
      cache: { direct: false, 'no-flush': true },
      file: { driver: 'file', filename: img },
    });
    await qmp.execute('device_add', {
      driver: 'scsi-hd',
      id: 'scsi-drive-0',
      drive: 'drive-0',
      bus: 'scsi0.0',
      'scsi-id': 0,
      lun: 1,
    });
    const block = await qmp.execute('query-block');
    expect(block).toHaveLength(1);
    expect(block[0]?.inserted).toMatchObject({
      file: img,
      'node-name': 'drive-0',
      cache: { 'no-flush': true },
    });
    const { event } = await qmp.executeAndWaitFor(
      'device_del',
      { id: 'scsi-drive-0' },
      (e) => e.event === 'DEVICE_DELETED' && e.data.device === 'scsi-drive-0',
      { timeoutMs: 10_000 },
    );
    expect(event.data).toMatchObject({ device: 'scsi-drive-0' });
    await qmp.execute('blockdev-del', { 'node-name': 'drive-0' });
    await expect(qmp.execute('query-named-block-nodes')).resolves.toEqual([]);
  });

  it('A chardev, a user netdev and a virtio-net NIC are added and removed', async () => {
    const { qmp } = await connect(['-device', 'pcie-root-port,id=rp0,bus=pcie.0,chassis=1,addr=0x3']);
    const path = join(dir, 'vhost.sock');
    await qmp.execute('chardev-add', {
      id: 'char0',
      backend: {
        type: 'socket',
        data: { addr: { type: 'unix', data: { path } }, server: true, wait: false },
      },
    });
    expect((await qmp.execute('query-chardev')).find((c) => c.label === 'char0')?.filename).toContain(path);
    await qmp.execute('chardev-remove', { id: 'char0' });
    await qmp.execute('netdev_add', { type: 'user', id: 'net0' });
    await qmp.execute('device_add', {
      driver: 'virtio-net-pci',
      id: 'nic0',
      netdev: 'net0',
      mac: '02:00:ca:fe:00:01',
      bus: 'rp0',
      romfile: '',
    });
    await expect(qmp.execute('qom-get', { path: '/machine/peripheral/nic0', property: 'mac' })).resolves.toBe(
      '02:00:ca:fe:00:01',
    );
    await expect(
      qmp.execute('qom-get', { path: '/machine/peripheral/nic0', property: 'netdev' }),
    ).resolves.toBe('net0');
    await expect(qmp.execute('netdev_del', { id: 'nope' })).rejects.toMatchObject({
      qmpClass: 'DeviceNotFound',
    });
  });

  it('A template is saved with migrate and restored with migrate-incoming, completion seen as MIGRATION events', async () => {
    // Kata's VM-template flow: guest RAM in a shared file, x-ignore-shared, device state via exec:.
    const state = join(dir, 'state');
    const memory = [
      '-m',
      '128M',
      '-object',
      `memory-backend-file,id=pc.ram,size=128M,mem-path=${join(dir, 'mem')},share=on`,
      '-machine',
      'memory-backend=pc.ram',
    ];
    const caps = {
      capabilities: [
        { capability: 'events' as const, state: true },
        { capability: 'x-ignore-shared' as const, state: true },
      ],
    };
    const done = (e: QmpEvent): boolean =>
      e.event === 'MIGRATION' && (e.data.status === 'completed' || e.data.status === 'failed');
    const { qmp } = await connect(memory);
    await qmp.execute('migrate-set-capabilities', caps);
    const { event } = await qmp.executeAndWaitFor('migrate', { uri: `exec:cat>${state}` }, done, {
      timeoutMs: 30_000,
    });
    expect(event.data.status).toBe('completed');
    await expect(qmp.execute('query-migrate')).resolves.toMatchObject({ status: 'completed' });
    expect(statSync(state).size).toBeGreaterThan(0);
    // Shared RAM is not in the stream: the device state is far smaller than the 128 MiB of RAM.
    expect(statSync(state).size).toBeLessThan(16 * 1024 * 1024);

    const { qmp: target } = await connect([...memory, '-incoming', 'defer']);
    await target.execute('migrate-set-capabilities', caps);
    const restored = await target.executeAndWaitFor('migrate-incoming', { uri: `exec:cat ${state}` }, done, {
      timeoutMs: 30_000,
    });
    expect(restored.event.data.status).toBe('completed');
  });

  it('Guest memory is dumped to a file and the balloon target is set', async () => {
    const { qmp } = await connect(['-m', '64M', '-device', 'virtio-balloon-pci,id=balloon0']);
    const core = join(dir, 'vmcore');
    await qmp.execute('dump-guest-memory', { paging: false, protocol: `file:${core}`, format: 'elf' });
    expect(statSync(core).size).toBeGreaterThan(64 * 1024 * 1024);
    await qmp.execute('balloon', { value: 32 * 1024 * 1024 });
  });

  it("QEMU's refusals surface as QmpCommandError with QEMU's class and desc", async () => {
    const { qmp } = await connect();
    const vfio = qmp.execute('device_add', { driver: 'vfio-pci', id: 'vfio0', host: '0000:ff:1f.7' });
    await expect(vfio).rejects.toBeInstanceOf(QmpCommandError);
    await expect(vfio).rejects.toMatchObject({
      code: 'ERR_QMP_COMMAND',
      command: 'device_add',
      qmpClass: 'GenericError',
    });
    await expect(qmp.execute('balloon', { value: 1 })).rejects.toMatchObject({ qmpClass: 'DeviceNotActive' });
    await expect(qmp.execute('device_del', { id: 'ghost' })).rejects.toMatchObject({
      qmpClass: 'DeviceNotFound',
      desc: "Device 'ghost' not found",
    });
    // A command this QEMU does not have never reaches it: the live schema check refuses it.
    await expect(qmp.executeUntyped('no-such-command')).rejects.toMatchObject({
      code: 'ERR_QMP_SCHEMA',
      paths: ['execute'],
    });
    expect(takeQmpSchemaViolations().map((e) => e.command)).toEqual(['no-such-command']);
    await expect(
      qmp.execute('device_add', { driver: 'vhost-user-blk-pci', id: 'vu0', chardev: 'missing' }),
    ).rejects.toMatchObject({ qmpClass: 'GenericError' });
    // The connection is still healthy after errors.
    await expect(qmp.execute('query-status')).resolves.toMatchObject({ status: 'prelaunch' });
  });

  it('quit after expectDisconnect ends the stream as an expected EOF and completes events$', async () => {
    const { child, qmp } = await connect();
    const events = firstValueFrom(qmp.events$.pipe(toArray()));
    qmp.expectDisconnect();
    await qmp.execute('quit');
    // QEMU closing the socket is seen as EOF or, when unread bytes were pending, as ECONNRESET:
    // both are the peer going away (reason `eof`), expected after expectDisconnect().
    const closed = await qmp.closed;
    expect(closed).toMatchObject({ reason: 'eof', expected: true });
    if (closed.error) expect(closed.error).toMatchObject({ code: 'ECONNRESET' });
    const seen: QmpEvent[] = await events;
    expect(seen.map((e) => e.event)).toContain('SHUTDOWN');
    await exited(child);
    expect(child.exitCode).toBe(0);
    await expect(qmp.execute('query-status')).rejects.toBeInstanceOf(QmpDisconnectedError);
  });

  it('A QEMU crash rejects pending commands with QmpDisconnectedError and is reported as unexpected', async () => {
    const { child, qmp } = await connect();
    const completed = firstValueFrom(qmp.events$.pipe(toArray()));
    // Killed with the command possibly unread: either it was answered first, or it is rejected.
    const pending = qmp.execute('query-status');
    child.kill('SIGKILL');
    const outcome = await pending.then(
      () => 'answered',
      (e: unknown) => e,
    );
    if (outcome !== 'answered') expect(outcome).toBeInstanceOf(QmpDisconnectedError);
    await expect(qmp.closed).resolves.toMatchObject({ reason: 'eof', expected: false });
    await expect(completed).resolves.toEqual([]);
    await expect(qmp.execute('query-status')).rejects.toMatchObject({
      code: 'ERR_QMP_DISCONNECTED',
      reason: 'eof',
    });
  });
});
