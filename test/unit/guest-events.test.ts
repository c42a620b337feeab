import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex, PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VmactorError } from '../../src/errors/vmactor-error.js';
import { GuestAgentClient } from '../../src/guest/agent-client.js';
import { GuestAgentClosedError, GuestEventTimeoutError } from '../../src/guest/errors.js';
import { ueventHandlerScript } from '../../src/guest/init-script.js';
import { formatRequest, type GuestEvent, parseGuestLine } from '../../src/guest/protocol.js';
import { hostBinary } from '../helpers/env.js';

const BUSYBOX = hostBinary('/bin/busybox');

/** An in-memory channel: `client` is what the host client uses, `toHost` is the guest's side. */
function channel() {
  const toHost = new PassThrough();
  const fromHost = new PassThrough();
  return { client: Duplex.from({ readable: toHost, writable: fromHost }), toHost };
}

const DISK_ADD =
  'event {"action":"add","subsystem":"block","devpath":"/devices/pci0000:00/0000:00:03.0/virtio2/block/vdb","seqnum":1201,"devname":"vdb","sizeBytes":16777216,"serial":"d1","readOnly":false}';

describe('guest event lines', () => {
  it('parses a disk add with its size and serial', () => {
    expect(parseGuestLine(DISK_ADD)).toEqual({
      kind: 'event',
      event: {
        action: 'add',
        subsystem: 'block',
        devpath: '/devices/pci0000:00/0000:00:03.0/virtio2/block/vdb',
        seqnum: 1201,
        devname: 'vdb',
        sizeBytes: 16 * 1024 * 1024,
        serial: 'd1',
        readOnly: false,
      },
    });
  });

  it('parses disk removal, CPU, memory and NIC events', () => {
    const lines = [
      'event {"action":"remove","subsystem":"block","devpath":"/devices/x/block/vdb","seqnum":3,"devname":"vdb"}',
      'event {"action":"online","subsystem":"cpu","devpath":"/devices/system/cpu/cpu2","seqnum":4,"cpu":2,"online":3}',
      'event {"action":"add","subsystem":"cpu","devpath":"/devices/system/cpu/cpu3","seqnum":5,"cpu":3,"online":3,"error":"could not online cpu3"}',
      'event {"action":"online","subsystem":"memory","devpath":"/devices/system/memory/memory33","seqnum":6,"block":33,"memTotalKiB":753664}',
      'event {"action":"add","subsystem":"net","devpath":"/devices/x/net/eth1","seqnum":7,"ifname":"eth1","mac":"52:54:00:ab:cd:01"}',
      'event {"action":"remove","subsystem":"net","devpath":"/devices/x/net/eth1","seqnum":8,"ifname":"eth1"}\r',
    ];
    const parsed = lines.map(parseGuestLine);
    expect(parsed.map((l) => l.kind)).toEqual(['event', 'event', 'event', 'event', 'event', 'event']);
    expect(parsed.map((l) => (l.kind === 'event' ? `${l.event.subsystem}:${l.event.action}` : ''))).toEqual([
      'block:remove',
      'cpu:online',
      'cpu:add',
      'memory:online',
      'net:add',
      'net:remove',
    ]);
    expect(parsed[2]).toMatchObject({ event: { cpu: 3, error: 'could not online cpu3' } });
    expect(parsed[3]).toMatchObject({ event: { block: 33, memTotalKiB: 753664 } });
  });

  it('marks bad JSON, non-objects, unknown subsystems and missing or mistyped fields as invalid', () => {
    const reasons = [
      'event {nope',
      'event [1,2]',
      'event {"action":"add","subsystem":"usb","devpath":"/x","seqnum":1}',
      'event {"action":"add","subsystem":"block","devpath":"/x","seqnum":1,"devname":"vdb"}',
      'event {"action":"online","subsystem":"cpu","devpath":"/x","seqnum":1,"cpu":"2","online":1}',
      'event {"action":"bind","subsystem":"memory","devpath":"/x","seqnum":1,"block":1,"memTotalKiB":1}',
      'event {"action":"add","subsystem":"net","devpath":"/x","seqnum":-1,"ifname":"eth1","mac":"m"}',
    ].map((l) => {
      const p = parseGuestLine(l);
      return p.kind === 'invalid' ? p.reason : `parsed as ${p.kind}`;
    });
    expect(reasons).toEqual([
      expect.stringMatching(/^event payload is not JSON/),
      'event payload is not a JSON object',
      'unknown subsystem `usb`',
      'field `sizeBytes` of a block event is missing or has the wrong type',
      'field `cpu` of a cpu event is missing or has the wrong type',
      'field `action` of a memory event is missing or has the wrong type',
      'field `seqnum` is missing or has the wrong type',
    ]);
  });

  it('still reads a reply whose id is not `event`, and refuses `event` as a request id', () => {
    expect(parseGuestLine('events ok {}')).toEqual({ kind: 'ok', id: 'events', result: {} });
    expect(formatRequest('event', 'ping', []).ok).toBe(false);
  });
});

describe('GuestAgentClient events', () => {
  it('publishes events on events$ and on lines$, and resolves no request with them', async () => {
    const { client, toHost } = channel();
    const agent = new GuestAgentClient(client);
    const events: GuestEvent[] = [];
    const kinds: string[] = [];
    agent.events$.subscribe((e) => events.push(e));
    agent.lines$.subscribe((l) => kinds.push(l.kind));
    const ping = agent.request('ping', []);
    toHost.write(`${DISK_ADD}\n1 ok {"pong":true,"release":"r"}\n`);
    await expect(ping).resolves.toEqual({ pong: true, release: 'r' });
    expect(events).toEqual([expect.objectContaining({ subsystem: 'block', devname: 'vdb' })]);
    expect(kinds).toEqual(['event', 'ok']);
    agent.close();
  });

  it('resolves waitForEvent armed before the trigger with the first matching event, narrowed by a type guard', async () => {
    const { client, toHost } = channel();
    const agent = new GuestAgentClient(client);
    const seen = agent.waitForEvent(
      (e): e is Extract<GuestEvent, { subsystem: 'cpu' }> => e.subsystem === 'cpu' && e.action === 'online',
      { timeout: 1000 },
    );
    // The "trigger": events arrive only after the wait was armed.
    toHost.write(`${DISK_ADD}\n`);
    toHost.write(
      'event {"action":"online","subsystem":"cpu","devpath":"/devices/system/cpu/cpu1","seqnum":9,"cpu":1,"online":2}\n',
    );
    const cpu = await seen;
    expect(cpu.cpu).toBe(1);
    expect(cpu.online).toBe(2);
    agent.close();
  });

  it('does not replay events that arrived before waitForEvent was called', async () => {
    const { client, toHost } = channel();
    const agent = new GuestAgentClient(client);
    const first = agent.waitForEvent(() => true, { timeout: 1000 });
    toHost.write(`${DISK_ADD}\n`);
    await first;
    await expect(agent.waitForEvent((e) => e.subsystem === 'block', { timeout: 30 })).rejects.toBeInstanceOf(
      GuestEventTimeoutError,
    );
    agent.close();
  });

  it('rejects at the deadline with a typed GuestEventTimeoutError carrying the deadline', async () => {
    const { client } = channel();
    const agent = new GuestAgentClient(client);
    const e = await agent.waitForEvent(() => true, { timeout: 25 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GuestEventTimeoutError);
    expect(e).toBeInstanceOf(VmactorError);
    expect(e).toMatchObject({ code: 'ERR_GUEST_EVENT_TIMEOUT', timeoutMs: 25, aborted: false });
    agent.close();
  });

  it('rejects on abort (also when already aborted) with the reason as cause', async () => {
    const { client } = channel();
    const agent = new GuestAgentClient(client);
    const ac = new AbortController();
    const p = agent.waitForEvent(() => true, { timeout: 10_000, signal: ac.signal });
    ac.abort(new Error('pre-empted'));
    await expect(p).rejects.toMatchObject({ aborted: true, cause: new Error('pre-empted') });
    await expect(agent.waitForEvent(() => true, { signal: ac.signal })).rejects.toBeInstanceOf(
      GuestEventTimeoutError,
    );
    agent.close();
  });

  it('rejects with GuestAgentClosedError when the channel ends, and at once afterwards', async () => {
    const { client, toHost } = channel();
    const agent = new GuestAgentClient(client);
    const p = agent.waitForEvent(() => true, { timeout: 10_000 });
    let completed = false;
    agent.events$.subscribe({ complete: () => (completed = true) });
    toHost.end();
    await expect(p).rejects.toBeInstanceOf(GuestAgentClosedError);
    expect(completed).toBe(true);
    await expect(agent.waitForEvent(() => true)).rejects.toBeInstanceOf(GuestAgentClosedError);
  });

  it('rejects with what the predicate throws', async () => {
    const { client, toHost } = channel();
    const agent = new GuestAgentClient(client);
    const p = agent.waitForEvent(
      () => {
        throw new RangeError('bad predicate');
      },
      { timeout: 1000 },
    );
    toHost.write(`${DISK_ADD}\n`);
    await expect(p).rejects.toThrow(RangeError);
    agent.close();
  });
});

describe('the guest uevent handler run by busybox sh', () => {
  let dir = '';
  let handler = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmactor-uevent-'));
    handler = join(dir, 'vmactor-uevent');
    await writeFile(handler, ueventHandlerScript(), { mode: 0o755 });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs the handler with fds 3 (captured), 4 (a lock FIFO holding its token) and 5 as /init sets them up. */
  function run(env: Record<string, string>): string {
    const script = `cd "$1" && mkfifo lock wake && exec 4<>lock 5<>wake && echo >&4 && /bin/busybox sh "$2" 3>&1 >/dev/null`;
    const out = execFileSync(BUSYBOX as string, ['sh', '-c', script, 'sh', dir, handler], {
      env: { PATH: '/usr/bin:/bin', ...env },
      encoding: 'utf8',
    });
    execFileSync('/bin/rm', ['-f', join(dir, 'lock'), join(dir, 'wake')]);
    return out;
  }

  it('is a script busybox sh accepts', () => {
    execFileSync(BUSYBOX as string, ['sh', '-n', handler]);
  });

  it('writes one event line the host parser accepts for a disk and a NIC going away', () => {
    const disk = run({
      ACTION: 'remove',
      SUBSYSTEM: 'block',
      DEVTYPE: 'disk',
      DEVNAME: 'vdb',
      DEVPATH: '/devices/pci0000:00/0000:00:03.0/virtio2/block/vdb',
      SEQNUM: '1234',
    });
    expect(disk.split('\n')).toEqual([expect.stringMatching(/^event \{/), '']);
    expect(parseGuestLine(disk.trimEnd())).toEqual({
      kind: 'event',
      event: {
        action: 'remove',
        subsystem: 'block',
        devpath: '/devices/pci0000:00/0000:00:03.0/virtio2/block/vdb',
        seqnum: 1234,
        devname: 'vdb',
      },
    });
    const nic = run({
      ACTION: 'remove',
      SUBSYSTEM: 'net',
      INTERFACE: 'eth1',
      DEVPATH: '/devices/x/net/eth1',
    });
    expect(parseGuestLine(nic.trimEnd())).toMatchObject({
      kind: 'event',
      event: { subsystem: 'net', action: 'remove', ifname: 'eth1', seqnum: 0 },
    });
  });

  it('reports a CPU going offline with the online count (read from this host’s sysfs)', () => {
    const out = run({
      ACTION: 'offline',
      SUBSYSTEM: 'cpu',
      DEVPATH: '/devices/system/cpu/cpu0',
      SEQNUM: '5',
    });
    const line = parseGuestLine(out.trimEnd());
    expect(line).toMatchObject({ kind: 'event', event: { subsystem: 'cpu', action: 'offline', cpu: 0 } });
  });

  it('stays silent for partitions, loop devices, lo and other subsystems', () => {
    expect(
      run({ ACTION: 'add', SUBSYSTEM: 'block', DEVTYPE: 'partition', DEVNAME: 'vdb1', DEVPATH: '/x/vdb1' }),
    ).toBe('');
    expect(
      run({ ACTION: 'remove', SUBSYSTEM: 'block', DEVTYPE: 'disk', DEVNAME: 'loop0', DEVPATH: '/x/loop0' }),
    ).toBe('');
    expect(
      run({ ACTION: 'add', SUBSYSTEM: 'net', INTERFACE: 'lo', DEVPATH: '/devices/virtual/net/lo' }),
    ).toBe('');
    expect(run({ ACTION: 'add', SUBSYSTEM: 'usb', DEVPATH: '/devices/usb1' })).toBe('');
    expect(run({ ACTION: 'bind', SUBSYSTEM: 'cpu', DEVPATH: '/devices/system/cpu/cpu0' })).toBe('');
  });
});
