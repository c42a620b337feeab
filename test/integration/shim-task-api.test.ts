// The Task service over a real ttrpc socket, without containerd: unimplemented methods, unknown
// ids and a bad bundle answer with the gRPC code containerd maps (errdefs), and nothing boots.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GRPC_CODE } from '../../src/shim/errors.js';
import type { TaskEventSink } from '../../src/shim/events.js';
import { decodeMessage, encodeMessage } from '../../src/shim/proto.js';
import { shimPaths } from '../../src/shim/shim-paths.js';
import { TASK_SERVICE, TaskService } from '../../src/shim/task-service.js';
import { TtrpcClient } from '../../src/shim/ttrpc-client.js';
import { TtrpcServer } from '../../src/shim/ttrpc-server.js';

let dir: string;
let server: TtrpcServer;
let client: TtrpcClient;
let published: string[];
let shutDown: Promise<void>;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vmshim-api-'));
  const paths = shimPaths('default', 'c1', { VMACTOR_SHIM_DIR: dir });
  mkdirSync(paths.taskDir, { recursive: true, mode: 0o700 });
  published = [];
  let onShutdown: () => void = () => {};
  shutDown = new Promise((r) => {
    onShutdown = r;
  });
  const events: TaskEventSink = {
    publish: (name) => void published.push(name),
    flush: async () => {},
    close: () => {},
  };
  const service = new TaskService({
    namespace: 'default',
    paths,
    events,
    logger: pino({ level: 'silent' }),
    onShutdown: () => onShutdown(),
  });
  server = new TtrpcServer();
  service.register(server);
  await server.listen(paths.socket);
  client = await TtrpcClient.connect(`unix://${paths.socket}`);
});

afterEach(async () => {
  client.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = (method: string, payload: Uint8Array) => client.call(TASK_SERVICE, method, payload);

describe('Task service over ttrpc', () => {
  it('answers Checkpoint and Update with UNIMPLEMENTED', async () => {
    for (const method of ['Checkpoint', 'Update', 'ResizePty']) {
      await expect(call(method, new Uint8Array())).rejects.toMatchObject({
        statusCode: GRPC_CODE.UNIMPLEMENTED,
      });
    }
  });

  it('answers State, Kill and Delete of an unknown container with NOT_FOUND', async () => {
    const ref = { id: 'nope', exec_id: '' };
    await expect(call('State', encodeMessage('containerd.task.v2.StateRequest', ref))).rejects.toMatchObject({
      statusCode: GRPC_CODE.NOT_FOUND,
      statusMessage: 'container nope not found',
    });
    const kill = encodeMessage('containerd.task.v2.KillRequest', { ...ref, signal: 9, all: false });
    await expect(call('Kill', kill)).rejects.toMatchObject({ statusCode: GRPC_CODE.NOT_FOUND });
    await expect(
      call('Delete', encodeMessage('containerd.task.v2.DeleteRequest', ref)),
    ).rejects.toMatchObject({
      statusCode: GRPC_CODE.NOT_FOUND,
    });
  });

  it('refuses a bundle without a valid config.json with INVALID_ARGUMENT, publishing nothing', async () => {
    const bundle = join(dir, 'bundle');
    mkdirSync(bundle);
    writeFileSync(
      join(bundle, 'config.json'),
      JSON.stringify({ process: { args: [] }, root: { path: 'rootfs' } }),
    );
    const create = encodeMessage('containerd.task.v2.CreateTaskRequest', {
      id: 'c1',
      bundle,
      rootfs: [],
      terminal: false,
      stdin: '',
      stdout: '',
      stderr: '',
      checkpoint: '',
      parent_checkpoint: '',
    });
    await expect(call('Create', create)).rejects.toMatchObject({
      statusCode: GRPC_CODE.INVALID_ARGUMENT,
      statusMessage: expect.stringContaining('`process.args`'),
    });
    expect(published).toEqual([]);
  });

  it('answers Connect with the shim pid, and Shutdown with nothing to serve ends the shim', async () => {
    const reply = await call('Connect', encodeMessage('containerd.task.v2.ConnectRequest', { id: 'c1' }));
    expect(decodeMessage('containerd.task.v2.ConnectResponse', reply).shim_pid).toBe(process.pid);
    await call('Shutdown', encodeMessage('containerd.task.v2.ShutdownRequest', { id: 'c1', now: false }));
    await shutDown;
  });
});
