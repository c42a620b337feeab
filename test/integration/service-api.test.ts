// The service's HTTP API against a real daemon: bad requests refused by name with nothing left, the socket's
// owner-only access, OpenAPI from the config schemas, metrics, and the SSE stream's order and Last-Event-ID resume.
import { spawn } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { freshId, tempRunBase } from './sandbox-fixtures.js';
import {
  type Daemon,
  http,
  readEvents,
  removeTempSockets,
  startDaemon,
  stopDaemons,
  streamBody,
  tempSocket,
} from './service-fixtures.js';

const base = tempRunBase();
guest('cloud');
let d: Daemon;
let socket: string;

beforeAll(async () => {
  socket = tempSocket();
  d = await startDaemon(base, socket, ['--memory-budget', '4096', '--event-buffer', '64', '--stop-on-exit']);
});
afterAll(async () => {
  await stopDaemons();
  d.child.kill('SIGTERM');
  await d.exited;
  rmSync(base, { recursive: true, force: true });
  removeTempSockets();
});

/** Nothing was created: no sandbox listed, no run dir, no process. */
async function nothingLeft(): Promise<void> {
  expect((await http(socket, 'GET', '/sandboxes')).json()).toEqual([]);
  expect(leftovers(base).filter((n) => !n.startsWith('.'))).toEqual([]);
  expect(descendants(d.pid)).toEqual([]);
}

describe('the service API refuses bad requests, naming the problem, creating nothing', () => {
  it('malformed JSON is a 400', async () => {
    const r = await http(socket, 'POST', '/sandboxes', '{"id": "a", ');
    expect(r.status).toBe(400);
    expect(r.json().message).toMatch(/JSON/);
    await nothingLeft();
  });

  it('a 100 MiB body, announced or chunked, is cut with a 413 after at most about 1 MiB, creating nothing', async () => {
    const total = 100 * 1024 * 1024;
    const metric = async () =>
      Number(
        /^vmactor_http_request_duration_seconds_count\{method="POST",route="\/sandboxes",status="413"\} (\d+)$/m.exec(
          (await http(socket, 'GET', '/metrics')).body,
        )?.[1] ?? 0,
      );
    const before = await metric();
    for (const mode of ['content-length', 'chunked'] as const) {
      const r = await streamBody(socket, '/sandboxes', total, mode);
      expect(r.head, mode).toMatch(/^HTTP\/1\.1 413 /);
      expect(r.head, mode).toMatch(/^connection: close$/im);
      expect(JSON.parse(r.body), mode).toMatchObject({
        error: 'FST_ERR_CTP_BODY_TOO_LARGE',
        message: 'Request body is too large',
      });
      // The service stopped taking the body near its 1 MiB limit (plus what the socket buffers held).
      expect(r.sent, mode).toBeLessThan(8 * 1024 * 1024);
      if (mode === 'chunked') expect(r.sent, mode).toBeGreaterThanOrEqual(1024 * 1024 - 64 * 1024);
      console.info(
        `${mode}: ${r.sent} body bytes written before the 413 (${r.writeError ?? 'no write error'})`,
      );
    }
    expect(await metric()).toBe(before + 2);
    // nothingLeft's GET /sandboxes is answered: the daemon took both cuts in its stride.
    await nothingLeft();
    expect(d.child.exitCode).toBeNull();
  });

  it('unknown fields are refused with their names, in the config and in a device spec', async () => {
    const id = freshId('unk');
    const r = await http(
      socket,
      'POST',
      '/sandboxes',
      JSON.stringify({ id, bogus: 1, hypervisor: { memorySize: 512, turbo: true } }),
    );
    expect(r.status).toBe(400);
    const body = r.json<{ message: string; issues: { path: string; message: string }[] }>();
    expect(body.issues).toContainEqual({ path: 'body.bogus', message: 'Unknown field `bogus`' });
    expect(body.message).toMatch(/body\.bogus: Unknown field `bogus`/);
    expect(JSON.stringify(body.issues)).toMatch(/turbo/);
    await nothingLeft();
  });

  it('a bad sandbox id, in the body or the path, is a 400 naming `id`; a path escaping the run base too', async () => {
    for (const id of ['../escape', '/etc', 'a/../../b', '']) {
      const r = await http(socket, 'POST', '/sandboxes', JSON.stringify({ id }));
      expect(r.status, id).toBe(400);
      expect(r.json().message, id).toMatch(/body\.id/);
    }
    for (const path of ['/sandboxes/..%2F..%2Fetc', '/sandboxes/.hidden', '/sandboxes/a%2Fb/start']) {
      const method = path.endsWith('/start') ? 'POST' : 'GET';
      const r = await http(socket, method, path);
      expect(r.status, path).toBe(400);
      expect(r.json().message, path).toMatch(/params\.id/);
    }
    const r = await http(socket, 'GET', '/sandboxes/nope');
    expect(r.status).toBe(404);
    expect(r.json().message).toBe('No sandbox `nope` on this host');
    await nothingLeft();
  });

  it('an invalid config is a 400 listing every problem; over the memory budget a 409 naming it', async () => {
    const id = freshId('inv');
    const r = await http(socket, 'POST', '/sandboxes', JSON.stringify({ id, hypervisor: { memorySize: 1 } }));
    expect(r.status).toBe(400);
    expect(r.json().message).toMatch(/hypervisor\.memorySize/);
    const big = await http(
      socket,
      'POST',
      '/sandboxes',
      JSON.stringify({ id, hypervisor: { memorySize: 8192 } }),
    );
    expect(big.status).toBe(409);
    expect(big.json()).toMatchObject({ reason: 'memory-budget', error: 'ERR_ADMISSION' });
    expect(big.json().message).toMatch(/8192 MiB.*4096 MiB memory budget/);
    await nothingLeft();
  });

  it('a device spec with an unknown kind or field is a 400 naming it', async () => {
    const id = freshId('dev');
    expect(
      (await http(socket, 'POST', '/sandboxes', JSON.stringify({ id, hypervisor: { memorySize: 256 } })))
        .status,
    ).toBe(201);
    const r = await http(
      socket,
      'POST',
      `/sandboxes/${id}/devices`,
      JSON.stringify({ kind: 'block', id: 'd1', file: '/x.img', colour: 'red' }),
    );
    expect(r.status).toBe(400);
    expect(r.json().message).toMatch(/body\.colour: Unknown field `colour`/);
    const rel = await http(
      socket,
      'POST',
      `/sandboxes/${id}/devices`,
      JSON.stringify({ kind: 'block', id: 'd1', file: 'rel.img' }),
    );
    expect(rel.status).toBe(400);
    expect(rel.json().message).toMatch(/body\.file/);
    expect((await http(socket, 'DELETE', `/sandboxes/${id}`)).status).toBe(200);
    await nothingLeft();
  });
});

describe('the socket', () => {
  it('is 0600 in a 0700 dir, and a non-root user cannot connect', async () => {
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(socket)).mode & 0o777).toBe(0o700);
    const probe = `require('net').connect(${JSON.stringify(socket)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(1); })`;
    const out = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', probe],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          shell: false,
        },
      );
      let o = '';
      c.stdout?.on('data', (x: Buffer) => {
        o += x.toString();
      });
      c.once('exit', (code) => resolve({ code, out: o }));
    });
    expect(out).toEqual({ code: 1, out: 'EACCES\n' });
  });
});

describe('OpenAPI, health and metrics', () => {
  it('serves an OpenAPI document whose request bodies come from the config and device schemas', async () => {
    const doc = (await http(socket, 'GET', '/openapi.json')).json<{
      openapi: string;
      paths: Record<
        string,
        Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>
      >;
    }>();
    expect(doc.openapi).toBe('3.1.0');
    for (const p of [
      '/sandboxes',
      '/sandboxes/{id}',
      '/sandboxes/{id}/devices',
      '/sandboxes/{id}/vcpus',
      '/events',
      '/templates',
      '/health',
      '/metrics',
    ])
      expect(Object.keys(doc.paths)).toContain(p);
    const create = JSON.stringify(doc.paths['/sandboxes']?.post?.requestBody);
    expect(create).toMatch(/"hypervisor"/);
    expect(create).toMatch(/"additionalProperties":false/);
    const plug = JSON.stringify(doc.paths['/sandboxes/{id}/devices']?.post?.requestBody);
    for (const kind of ['block', 'net', 'vsock', 'vfio']) expect(plug).toContain(`"${kind}"`);
  });

  it('answers health and Prometheus metrics', async () => {
    const h = (await http(socket, 'GET', '/health')).json();
    expect(h).toMatchObject({ status: 'ok', state: 'serving', pid: d.pid });
    const m = await http(socket, 'GET', '/metrics');
    expect(m.status).toBe(200);
    expect(m.body).toMatch(/^vmactor_sandboxes\{phase="running"\} \d+$/m);
    expect(m.body).toMatch(/^# TYPE vmactor_operation_duration_seconds histogram$/m);
    expect(m.body).toMatch(
      /^vmactor_http_request_duration_seconds_count\{method="GET",route="\/health",status="200"\} 1$/m,
    );
  });
});

describe('the event stream', () => {
  it('delivers every lifecycle event of sandboxes started at once in order without gaps, and resumes with Last-Event-ID', async () => {
    const ids = [freshId('sse'), freshId('sse'), freshId('sse')];
    const from = (await http(socket, 'GET', '/health')).json<{ lastEventSeq: number }>().lastEventSeq;
    // 3 × (added, starting, running) before the first reader stops reading.
    const firstNine = readEvents(socket, `/events?since=${from}`, 9);
    for (const id of ids)
      expect(
        (await http(socket, 'POST', '/sandboxes', JSON.stringify({ id, hypervisor: { memorySize: 256 } })))
          .status,
      ).toBe(201);
    const started = await Promise.all(ids.map((id) => http(socket, 'POST', `/sandboxes/${id}/start`)));
    for (const r of started) expect(r.json().phase).toBe('running');
    const seen = await firstNine;
    expect(seen.map((e) => e.seq)).toEqual(seen.map((_, i) => from + 1 + i));
    for (const id of ids) {
      const mine = seen
        .filter((e) => e.sandboxId === id)
        .map((e) => (e.type === 'lifecycle' ? e.to : e.type));
      expect(mine).toEqual(['supervisor', 'starting', 'running']);
    }
    // Events after the reader left (the stops) come back to a client resuming from its last id.
    const last = seen.at(-1)?.seq as number;
    await Promise.all(ids.map((id) => http(socket, 'DELETE', `/sandboxes/${id}`)));
    const missed = await readEvents(socket, '/events', 3 * 3, { 'last-event-id': String(last) });
    expect(missed.map((e) => e.seq)).toEqual(missed.map((_, i) => last + 1 + i));
    for (const id of ids) {
      const mine = missed
        .filter((e) => e.sandboxId === id)
        .map((e) => (e.type === 'lifecycle' ? e.to : e.type));
      expect(mine).toEqual(['stopping', 'stopped', 'supervisor']);
    }
    await nothingLeft();
  });
});

describe('metrics after sandboxes ran', () => {
  it('count QMP round trips by command, start and stop latencies, and sandboxes by phase', async () => {
    const id = freshId('met');
    expect(
      (await http(socket, 'POST', '/sandboxes', JSON.stringify({ id, hypervisor: { memorySize: 256 } })))
        .status,
    ).toBe(201);
    expect((await http(socket, 'POST', `/sandboxes/${id}/start`)).status).toBe(200);
    expect((await http(socket, 'POST', `/sandboxes/${id}/pause`)).status).toBe(200);
    const during = (await http(socket, 'GET', '/metrics')).body;
    expect(during).toMatch(/^vmactor_sandboxes\{phase="paused"\} 1$/m);
    expect(during).toMatch(/^# TYPE vmactor_qmp_roundtrip_seconds histogram$/m);
    // The handshake and the pause went through QMP: each reply timed.
    for (const command of ['qmp_capabilities', 'stop'])
      expect(during).toMatch(
        new RegExp(
          `^vmactor_qmp_roundtrip_seconds_count\\{command="${command}",outcome="ok"\\} [1-9]\\d*$`,
          'm',
        ),
      );
    expect((await http(socket, 'DELETE', `/sandboxes/${id}`)).status).toBe(200);
    const after = (await http(socket, 'GET', '/metrics')).body;
    expect(after).toMatch(/^vmactor_qmp_roundtrip_seconds_count\{command="quit",outcome="ok"\} [1-9]\d*$/m);
    expect(after).toMatch(/^vmactor_lifecycle_duration_seconds_count\{transition="start"\} [1-9]\d*$/m);
    expect(after).toMatch(/^vmactor_lifecycle_duration_seconds_count\{transition="stop"\} [1-9]\d*$/m);
    expect(after).toMatch(/^vmactor_sandboxes\{phase="paused"\} 0$/m);
    await nothingLeft();
  });
});
