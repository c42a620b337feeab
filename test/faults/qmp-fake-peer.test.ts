import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { firstValueFrom, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  QMP_DEFAULT_TIMEOUT_MS,
  QMP_MAX_LINE_BYTES,
  QmpAbortError,
  QmpClient,
  QmpCommandError,
  QmpDisconnectedError,
  QmpOptionError,
  QmpProtocolError,
  QmpSchemaUnavailableError,
  QmpTimeoutError,
} from '../../src/qmp/index.js';

// Protocol faults injected by a fake QMP peer on a real Unix socket. The fake never proves a
// feature (the integration tests against QEMU do); it only produces bytes QEMU would not. It
// serves no `query-qmp-schema`, so every client here turns the live schema check off explicitly
// (`NO_SCHEMA`); with the check on, such a peer is refused (tested below).

/** The fake serves no QAPI schema: the check is off by an explicit option, never skipped silently. */
const NO_SCHEMA = { schemaCheck: false } as const;

const GREETING =
  '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "fake"}, "capabilities": ["oob"]}}\r\n';

let dir: string;
let server: Server;
let peers: Socket[] = [];
let clients: QmpClient[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vmactor-qmpfault-'));
  server = createServer((s) => {
    s.on('error', () => {});
    peers.push(s);
  });
  await new Promise<void>((r) => server.listen(join(dir, 'qmp.sock'), r));
});

afterEach(async () => {
  for (const c of clients) c.close();
  for (const p of peers) p.destroy();
  clients = [];
  peers = [];
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

/** A connected (client socket, peer socket) pair over the Unix socket. */
async function pair(): Promise<{ client: Socket; peer: Socket }> {
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = createConnection(join(dir, 'qmp.sock'));
  await new Promise<void>((r) => client.once('connect', () => r()));
  return { client, peer: await accepted };
}

/** Reads the commands the client writes, one JSON object per line. */
function onCommands(
  peer: Socket,
  handler: (cmd: { execute: string; arguments?: Record<string, unknown>; id: number }) => void,
): void {
  let buf = '';
  peer.setEncoding('utf8');
  peer.on('data', (chunk: string) => {
    buf += chunk;
    let nl = buf.indexOf('\n');
    while (nl !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      handler(JSON.parse(line));
      nl = buf.indexOf('\n');
    }
  });
}

/** A peer that greets, accepts qmp_capabilities, and hands other commands to `rest`. */
function qemuLike(
  peer: Socket,
  rest: (cmd: { execute: string; arguments?: Record<string, unknown>; id: number }) => void = () => {},
): void {
  onCommands(peer, (cmd) => {
    if (cmd.execute === 'qmp_capabilities') peer.write(`{"return": {}, "id": ${cmd.id}}\r\n`);
    else rest(cmd);
  });
  peer.write(GREETING);
}

async function connected(
  opts: Parameters<typeof QmpClient.connect>[1] = {},
  rest?: Parameters<typeof qemuLike>[1],
) {
  const { client, peer } = await pair();
  qemuLike(peer, rest);
  const qmp = await QmpClient.connect(client, { ...NO_SCHEMA, ...opts });
  clients.push(qmp);
  return { qmp, peer, client };
}

function captureLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, lines };
}

/** Writes `msg` to the peer in two parts split at byte `k`; the second part only after the client read the first. */
function writeSplit(peer: Socket, client: Socket, msg: Buffer, k: number): void {
  if (k <= 0 || k >= msg.length) {
    peer.write(msg);
    return;
  }
  client.once('data', () => peer.write(msg.subarray(k)));
  peer.write(msg.subarray(0, k));
}

describe('QMP framing and correlation under injected protocol faults', () => {
  it('Every message split at every byte position is reassembled, including inside UTF-8 sequences', async () => {
    const greeting = Buffer.from(GREETING);
    const event = Buffer.from(
      '{"event": "BLOCK_IO_ERROR", "data": {"device": "dé✓", "reason": "ü"}, "timestamp": {"seconds": 1700000000, "microseconds": 123456}}\n',
    );
    const max = Math.max(greeting.length, event.length + 40);
    for (let k = 0; k <= max; k++) {
      const { client, peer } = await pair();
      onCommands(peer, (cmd) => {
        if (cmd.execute === 'qmp_capabilities') {
          writeSplit(peer, client, Buffer.from(`{"return": {}, "id": ${cmd.id}}\r\n`), k);
        } else {
          const reply = Buffer.from(
            `{"return": {"status": "running", "running": true, "singlestep": false}, "id": ${cmd.id}}\n`,
          );
          writeSplit(peer, client, Buffer.concat([event, reply]), k);
        }
      });
      writeSplit(peer, client, greeting, k);
      const qmp = await QmpClient.connect(client, NO_SCHEMA);
      clients.push(qmp);
      expect(qmp.version.qemu).toEqual({ major: 7, minor: 2, micro: 22 });
      const ev = firstValueFrom(qmp.events$);
      await expect(qmp.execute('query-status')).resolves.toEqual({
        status: 'running',
        running: true,
        singlestep: false,
      });
      const e = await ev;
      expect(e.data).toEqual({ device: 'dé✓', reason: 'ü' });
      expect(e.timestamp.toISOString()).toBe('2023-11-14T22:13:20.123Z');
      qmp.close();
    }
  });

  it('A garbage line ends the connection with a typed protocol error and rejects pending commands', async () => {
    const { qmp, peer } = await connected({}, () => peer.write('this is not JSON\r\n'));
    const events = firstValueFrom(qmp.events$.pipe(toArray())).catch((e: unknown) => e);
    const err = await qmp.execute('query-status').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpDisconnectedError);
    expect((err as QmpDisconnectedError).cause).toBeInstanceOf(QmpProtocolError);
    const info = await qmp.closed;
    expect(info).toMatchObject({ reason: 'error', expected: false });
    expect(info.error).toMatchObject({ code: 'ERR_QMP_PROTOCOL', excerpt: 'this is not JSON' });
    const evErr = await events;
    expect(evErr).toBeInstanceOf(QmpDisconnectedError);
  });

  it('JSON that is not an object is a protocol error too', async () => {
    const { qmp, peer } = await connected({}, () => peer.write('[1, 2, 3]\n'));
    await expect(qmp.execute('query-status')).rejects.toBeInstanceOf(QmpDisconnectedError);
    await expect(qmp.closed).resolves.toMatchObject({
      reason: 'error',
      error: { message: expect.stringMatching(/not an object/) },
    });
  });

  it('A line over the 10 MiB cap is refused once the cap is passed, without buffering the rest', async () => {
    let sent = 0;
    const { qmp, peer } = await connected({}, () => {
      const chunk = Buffer.alloc(1024 * 1024, 0x61);
      const pump = (): void => {
        while (sent <= QMP_MAX_LINE_BYTES + 4 * chunk.length && !peer.destroyed) {
          sent += chunk.length;
          if (!peer.write(chunk)) {
            peer.once('drain', pump);
            return;
          }
        }
      };
      peer.write('{"return": "');
      pump();
    });
    await expect(qmp.execute('query-status')).rejects.toBeInstanceOf(QmpDisconnectedError);
    const info = await qmp.closed;
    expect(info.error).toBeInstanceOf(QmpProtocolError);
    expect(info.error?.message).toMatch(/exceeds the 10485760-byte cap/);
  });

  it('A reply of exactly the cap is accepted', async () => {
    const body = 'a'.repeat(QMP_MAX_LINE_BYTES - '{"return": "", "id": 2}'.length);
    const { qmp, peer } = await connected({}, (cmd) =>
      peer.write(`{"return": "${body}", "id": ${cmd.id}}\n`),
    );
    const value = await qmp.execute('qom-get', { path: '/machine', property: 'big' });
    expect(typeof value === 'string' && value.length).toBe(body.length);
  });

  it('An event before the greeting is not taken for the greeting', async () => {
    const { client, peer } = await pair();
    peer.write('{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 0}}\n');
    qemuLike(peer);
    const qmp = await QmpClient.connect(client, NO_SCHEMA);
    clients.push(qmp);
    expect(qmp.version.package).toBe('fake');
    expect(qmp.capabilities).toEqual(['oob']);
  });

  it('No greeting before the deadline rejects with QmpTimeoutError and closes the socket', async () => {
    const { client, peer } = await pair();
    const peerClosed = new Promise<void>((r) => peer.once('close', () => r()));
    peer.write('{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 0}}\n');
    const err = await QmpClient.connect(client, { ...NO_SCHEMA, greetingTimeoutMs: 100 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(QmpTimeoutError);
    expect(err).toMatchObject({ code: 'ERR_QMP_TIMEOUT', waitingFor: 'greeting', timeoutMs: 100 });
    await peerClosed;
    expect(client.destroyed).toBe(true);
  });

  it('A malformed greeting is a protocol error', async () => {
    const { client, peer } = await pair();
    peer.write('{"QMP": {"version": "7.2"}}\n');
    await expect(QmpClient.connect(client, NO_SCHEMA)).rejects.toMatchObject({ code: 'ERR_QMP_PROTOCOL' });
  });

  it('An abort signal ends the handshake with QmpAbortError', async () => {
    const { client } = await pair();
    const ac = new AbortController();
    const p = QmpClient.connect(client, { ...NO_SCHEMA, signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(QmpAbortError);
    expect(client.destroyed).toBe(true);
  });

  it('EOF in the middle of a reply rejects the pending command and completes events$', async () => {
    const { qmp, peer } = await connected({}, () => peer.end(`{"return": {"status": "runn`));
    const events = firstValueFrom(qmp.events$.pipe(toArray()));
    const err = await qmp.execute('query-status').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpDisconnectedError);
    expect(err).toMatchObject({ reason: 'eof', message: expect.stringMatching(/query-status/) });
    await expect(events).resolves.toEqual([]);
    await expect(qmp.closed).resolves.toEqual({ reason: 'eof', expected: false });
  });

  it('EOF after expectDisconnect is reported as expected', async () => {
    const { qmp, peer } = await connected({}, (cmd) => {
      peer.write(`{"return": {}, "id": ${cmd.id}}\n`);
      peer.end(
        '{"event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}, "timestamp": {"seconds": 2, "microseconds": 5}}\n',
      );
    });
    const events = firstValueFrom(qmp.events$.pipe(toArray()));
    qmp.expectDisconnect();
    await qmp.execute('quit');
    await expect(qmp.closed).resolves.toEqual({ reason: 'eof', expected: true });
    expect((await events).map((e) => e.event)).toEqual(['SHUTDOWN']);
  });

  it('A quit whose reply is overtaken by the EOF succeeds after expectDisconnect', async () => {
    const { qmp, peer } = await connected({}, () => peer.end());
    qmp.expectDisconnect();
    await expect(qmp.execute('quit')).resolves.toEqual({});
    await expect(qmp.closed).resolves.toEqual({ reason: 'eof', expected: true });
  });

  it('Events that arrive with the capabilities reply reach a subscriber who subscribes right after connect', async () => {
    const { client, peer } = await pair();
    onCommands(peer, (cmd) =>
      peer.write(
        `{"return": {}, "id": ${cmd.id}}\n{"event": "RESUME", "timestamp": {"seconds": 4, "microseconds": 0}}\n`,
      ),
    );
    peer.write(GREETING);
    const qmp = await QmpClient.connect(client, NO_SCHEMA);
    clients.push(qmp);
    const e = await firstValueFrom(qmp.events$);
    expect(e.event).toBe('RESUME');
  });

  it('An unexpected EOF leaves no listeners, timers or open socket behind', async () => {
    const { client, peer } = await pair();
    const events = ['data', 'end', 'close', 'error'] as const;
    const before = events.map((ev) => client.listenerCount(ev));
    qemuLike(peer, () => peer.end());
    const qmp = await QmpClient.connect(client, NO_SCHEMA);
    clients.push(qmp);
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    await expect(qmp.execute('query-status', undefined, { timeoutMs: 60_000 })).rejects.toBeInstanceOf(
      QmpDisconnectedError,
    );
    await qmp.closed;
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(timersBefore);
    // Only a no-op 'error' guard stays, so a late socket error cannot crash the process.
    expect(events.map((ev) => client.listenerCount(ev))).toEqual(
      before.map((n, i) => (events[i] === 'error' ? n + 1 : n)),
    );
    expect(client.destroyed).toBe(true);
  });

  it('A stalled reply times out, its late reply is dropped and logged, and the next command gets its own reply', async () => {
    const { logger, lines } = captureLogger();
    let stalled: number | undefined;
    const { qmp, peer } = await connected({ logger }, (cmd) => {
      if (stalled === undefined) {
        stalled = cmd.id;
        return;
      }
      peer.write(`{"return": "late", "id": ${stalled}}\n{"return": "mine", "id": ${cmd.id}}\n`);
    });
    await expect(
      qmp.execute('qom-get', { path: '/', property: 'a' }, { timeoutMs: 50 }),
    ).rejects.toMatchObject({
      code: 'ERR_QMP_TIMEOUT',
      waitingFor: 'qom-get',
    });
    expect(qmp.pendingCount).toBe(0);
    await expect(qmp.execute('qom-get', { path: '/', property: 'b' })).resolves.toBe('mine');
    expect(lines.some((l) => l.id === stalled && String(l.msg).includes('unknown id'))).toBe(true);
  });

  it('defaultTimeoutMs applies to commands that give no deadline of their own', async () => {
    const { qmp } = await connected({ defaultTimeoutMs: 30 });
    await expect(qmp.execute('query-status')).rejects.toMatchObject({
      code: 'ERR_QMP_TIMEOUT',
      timeoutMs: 30,
    });
    expect(qmp.pendingCount).toBe(0);
  });

  it('With the schema check on, a peer that serves no query-qmp-schema is refused, not left unchecked', async () => {
    const { client, peer } = await pair();
    const asked: string[] = [];
    qemuLike(peer, (cmd) => {
      asked.push(cmd.execute);
      peer.write(
        `{"error": {"class": "CommandNotFound", "desc": "The command ${cmd.execute} has not been found"}, "id": ${cmd.id}}\n`,
      );
    });
    const err = await QmpClient.connect(client, { schemaCheck: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpSchemaUnavailableError);
    expect(err).toMatchObject({ code: 'ERR_QMP_SCHEMA_UNAVAILABLE' });
    expect((err as Error).cause).toBeInstanceOf(QmpCommandError);
    expect(asked).toEqual(['query-target', 'query-qmp-schema']);
    expect(client.destroyed).toBe(true);
  });

  it('A command without a deadline of its own times out after the 30 s default', async () => {
    const { qmp } = await connected(); // the peer never answers
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const p = qmp.execute('query-status').catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(QMP_DEFAULT_TIMEOUT_MS - 1);
      expect(qmp.pendingCount).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      const err = await p;
      expect(err).toBeInstanceOf(QmpTimeoutError);
      expect(err).toMatchObject({ waitingFor: 'query-status', timeoutMs: 30_000 });
      expect(qmp.pendingCount).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('timeoutMs: Infinity arms no timer and the command waits for its reply', async () => {
    let first: number | undefined;
    const { qmp, peer } = await connected({}, (cmd) => {
      if (first === undefined) {
        first = cmd.id;
        return;
      }
      peer.write(`{"return": "late", "id": ${first}}\n{"return": "now", "id": ${cmd.id}}\n`);
    });
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const waiting = qmp.execute(
      'qom-get',
      { path: '/', property: 'a' },
      { timeoutMs: Number.POSITIVE_INFINITY },
    );
    expect(timers()).toBe(before);
    await expect(qmp.execute('qom-get', { path: '/', property: 'b' }, { timeoutMs: 5000 })).resolves.toBe(
      'now',
    );
    await expect(waiting).resolves.toBe('late');
  });

  it('executeAndWaitFor with timeoutMs: Infinity waits for the event without a timer', async () => {
    const { qmp, peer } = await connected({}, (cmd) => {
      if (cmd.execute === 'device_del') peer.write(`{"return": {}, "id": ${cmd.id}}\n`);
      else
        peer.write(
          `{"return": "ok", "id": ${cmd.id}}\n{"event": "DEVICE_DELETED", "data": {"device": "d1"}, "timestamp": {"seconds": 9, "microseconds": 0}}\n`,
        );
    });
    const waited = qmp.executeAndWaitFor('device_del', { id: 'd1' }, (e) => e.event === 'DEVICE_DELETED', {
      timeoutMs: Number.POSITIVE_INFINITY,
    });
    await expect(qmp.execute('qom-get', { path: '/', property: 'x' })).resolves.toBe('ok');
    await expect(waited).resolves.toMatchObject({ result: {}, event: { data: { device: 'd1' } } });
    expect(qmp.pendingCount).toBe(0);
  });

  it('A deadline that is not a positive number is refused with QmpOptionError and nothing is written', async () => {
    const written: string[] = [];
    const { qmp } = await connected({}, (cmd) => written.push(cmd.execute));
    for (const timeoutMs of [0, -1, Number.NaN]) {
      await expect(qmp.execute('query-status', undefined, { timeoutMs })).rejects.toBeInstanceOf(
        QmpOptionError,
      );
    }
    await expect(
      qmp.executeAndWaitFor('device_del', { id: 'x' }, () => true, { timeoutMs: -5 }),
    ).rejects.toMatchObject({
      code: 'ERR_QMP_INVALID_OPTION',
      message: expect.stringMatching(/`timeoutMs`.*`-5`/),
    });
    expect(written).toEqual([]);
    expect(qmp.pendingCount).toBe(0);
    const { client } = await pair();
    await expect(QmpClient.connect(client, { ...NO_SCHEMA, defaultTimeoutMs: 0 })).rejects.toBeInstanceOf(
      QmpOptionError,
    );
    expect(client.destroyed).toBe(true);
  });

  it('A command validator that throws rejects the command before anything is written', async () => {
    const written: string[] = [];
    const { qmp } = await connected(
      {
        commandValidator: (c) => {
          if (c === 'balloon') throw new TypeError('Expected `value` to be an integer, got `x`');
        },
      },
      (cmd) => written.push(cmd.execute),
    );
    await expect(qmp.executeUntyped('balloon', { value: 'x' })).rejects.toThrow(TypeError);
    expect(qmp.pendingCount).toBe(0);
    expect(written).toEqual([]);
  });

  it('1,000 concurrent commands each get their own reply when the peer answers in reverse order', async () => {
    const received: number[] = [];
    const { qmp, peer } = await connected({}, (cmd) => {
      received.push(cmd.id);
      if (received.length === 1000) {
        const out = received
          .reverse()
          .map((id) => `{"return": "reply-${id}", "id": ${id}}\n`)
          .join('');
        peer.write(out);
      }
    });
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        qmp.execute('qom-get', { path: '/', property: `p${i}` }).then((r) => [i, r] as const),
      ),
    );
    // Ids are allocated in call order after qmp_capabilities (id 1): call i has id i + 2.
    for (const [i, r] of results) expect(r).toBe(`reply-${i + 2}`);
    expect(qmp.pendingCount).toBe(0);
  });

  it('An aborted command rejects with QmpAbortError and its late reply is dropped', async () => {
    let pendingId = 0;
    const { qmp, peer } = await connected({}, (cmd) => {
      if (!pendingId) pendingId = cmd.id;
      else peer.write(`{"return": "x", "id": ${pendingId}}\n{"return": "y", "id": ${cmd.id}}\n`);
    });
    const ac = new AbortController();
    const p = qmp.execute('qom-get', { path: '/', property: 'a' }, { signal: ac.signal });
    ac.abort(new Error('user gave up'));
    await expect(p).rejects.toBeInstanceOf(QmpAbortError);
    await expect(qmp.execute('qom-get', { path: '/', property: 'b' })).resolves.toBe('y');
  });

  it('execute$ is cold, and unsubscribing forgets the pending command', async () => {
    const seen: string[] = [];
    let sawA!: () => void;
    const aArrived = new Promise<void>((r) => {
      sawA = r;
    });
    const { qmp, peer } = await connected({}, (cmd) => {
      seen.push(String(cmd.arguments?.property));
      if (cmd.arguments?.property === 'a') sawA();
      if (cmd.arguments?.property === 'b')
        peer.write(`{"return": "first-late", "id": ${cmd.id - 1}}\n{"return": "b", "id": ${cmd.id}}\n`);
    });
    const cold = qmp.execute$('qom-get', { path: '/', property: 'a' });
    expect(seen).toEqual([]);
    const sub = cold.subscribe();
    await aArrived;
    sub.unsubscribe();
    expect(qmp.pendingCount).toBe(0);
    await expect(firstValueFrom(qmp.execute$('qom-get', { path: '/', property: 'b' }))).resolves.toBe('b');
    expect(seen).toEqual(['a', 'b']);
  });

  it('close() rejects pending commands, clears their timers and detaches from the socket', async () => {
    const { qmp, client } = await connected();
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const pending = qmp.execute('query-status', undefined, { timeoutMs: 60_000 });
    qmp.close();
    qmp.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_QMP_DISCONNECTED', reason: 'closed' });
    await expect(qmp.closed).resolves.toEqual({ reason: 'closed', expected: true });
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(timersBefore);
    expect(client.listenerCount('data')).toBe(0);
    expect(client.destroyed).toBe(true);
  });

  it('executeAndWaitFor sees an event that arrives before the reply', async () => {
    const { qmp, peer } = await connected({}, (cmd) => {
      peer.write(
        `{"event": "DEVICE_DELETED", "data": {"device": "nic0", "path": "/machine/peripheral/nic0"}, "timestamp": {"seconds": 3, "microseconds": 0}}\n{"return": {}, "id": ${cmd.id}}\n`,
      );
    });
    const { result, event } = await qmp.executeAndWaitFor(
      'device_del',
      { id: 'nic0' },
      (e) => e.event === 'DEVICE_DELETED' && e.data.device === 'nic0',
      { timeoutMs: 5000 },
    );
    expect(result).toEqual({});
    expect(event.timestamp.getTime()).toBe(3000);
  });

  it('executeAndWaitFor without the event by the deadline rejects with QmpTimeoutError', async () => {
    const { qmp, peer } = await connected({}, (cmd) => peer.write(`{"return": {}, "id": ${cmd.id}}\n`));
    await expect(
      qmp.executeAndWaitFor('device_del', { id: 'x' }, (e) => e.event === 'DEVICE_DELETED', {
        timeoutMs: 50,
      }),
    ).rejects.toBeInstanceOf(QmpTimeoutError);
    expect(qmp.pendingCount).toBe(0);
  });

  it('executeAndWaitFor on a closed client rejects with QmpDisconnectedError', async () => {
    const { qmp } = await connected();
    qmp.close();
    await expect(
      qmp.executeAndWaitFor('device_del', { id: 'x' }, (e) => e.event === 'DEVICE_DELETED', {
        timeoutMs: 5000,
      }),
    ).rejects.toMatchObject({ code: 'ERR_QMP_DISCONNECTED', reason: 'closed' });
  });

  it('executeAndWaitFor rejects when the connection drops while it waits for the event', async () => {
    const { qmp, peer } = await connected({}, (cmd) => {
      peer.write(`{"return": {}, "id": ${cmd.id}}\n`);
      peer.end();
    });
    await expect(
      qmp.executeAndWaitFor('device_del', { id: 'x' }, (e) => e.event === 'DEVICE_DELETED', {
        timeoutMs: 5000,
      }),
    ).rejects.toMatchObject({ code: 'ERR_QMP_DISCONNECTED', reason: 'eof' });
  });

  it('executeAndWaitFor rejects with the command error when QEMU refuses', async () => {
    const { qmp, peer } = await connected({}, (cmd) =>
      peer.write(`{"error": {"class": "DeviceNotFound", "desc": "Device 'x' not found"}, "id": ${cmd.id}}\n`),
    );
    await expect(
      qmp.executeAndWaitFor('device_del', { id: 'x' }, (e) => e.event === 'DEVICE_DELETED', {
        timeoutMs: 5000,
      }),
    ).rejects.toMatchObject({
      code: 'ERR_QMP_COMMAND',
      qmpClass: 'DeviceNotFound',
      desc: "Device 'x' not found",
    });
  });
});
