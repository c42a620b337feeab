// Pure parts of the containerd shim: containerd's flags, derived paths and ids, the guest process spec, proc events.
import { describe, expect, it } from 'vitest';
import { parseGuestLine } from '../../src/guest/protocol.js';
import { ShimInputError } from '../../src/shim/errors.js';
import { encodeGuestSpec } from '../../src/shim/guest-spec.js';
import { NOTHING_LEFT_DELETE_RESPONSE, parseShimFlags } from '../../src/shim/main.js';
import { cgroupMetrics } from '../../src/shim/metrics.js';
import { decodeMessage, encodeMessage, serviceMethods, toAny } from '../../src/shim/proto.js';
import { shimPaths } from '../../src/shim/shim-paths.js';

describe('shim flags', () => {
  it('parses the argv containerd 1.6 execs the shim with', () => {
    const flags = parseShimFlags([
      '-namespace',
      'default',
      '-address',
      '/run/containerd/containerd.sock',
      '-publish-binary',
      '/usr/bin/containerd',
      '-id',
      't1',
      '-debug',
      'start',
    ]);
    expect(flags).toEqual({
      namespace: 'default',
      id: 't1',
      address: '/run/containerd/containerd.sock',
      publishBinary: '/usr/bin/containerd',
      bundle: undefined,
      debug: true,
      action: 'start',
    });
    expect(parseShimFlags(['-id', 't1', '-bundle', '/b', 'delete']).bundle).toBe('/b');
  });

  it('refuses unknown flags, missing values and unknown actions with ShimInputError', () => {
    expect(() => parseShimFlags(['-nope', 'x'])).toThrow(ShimInputError);
    expect(() => parseShimFlags(['-id'])).toThrow(/Expected a value after `-id`/);
    expect(() => parseShimFlags(['run'])).toThrow(/Expected the action to be `start` or `delete`, got `run`/);
  });
});

describe('shim paths', () => {
  it('derives the socket, state and sandbox id from namespace and id, under the shim base', () => {
    const p = shimPaths('default', 't1', { VMACTOR_SHIM_DIR: '/tmp/s' });
    expect(p.taskDir).toMatch(/^\/tmp\/s\/task\/[0-9a-f]{16}$/);
    expect(p.socket).toBe(`${p.taskDir}/ttrpc.sock`);
    expect(p.sandboxId).toBe(`ctr-${p.taskDir.slice(-16)}`);
    expect(p.vmBase).toBe('/tmp/s/vm');
    expect(shimPaths('other', 't1', { VMACTOR_SHIM_DIR: '/tmp/s' }).sandboxId).not.toBe(p.sandboxId);
  });

  it('refuses ids with path tricks and socket paths over 107 bytes', () => {
    expect(() => shimPaths('default', '../x', {})).toThrow(/Expected `-id` to be a containerd identifier/);
    expect(() => shimPaths('a/b', 't', {})).toThrow(ShimInputError);
    expect(() => shimPaths('default', 't1', { VMACTOR_SHIM_DIR: `/tmp/${'x'.repeat(80)}` })).toThrow(
      /≤ 107 bytes/,
    );
  });
});

describe('guest process spec', () => {
  it('encodes each field on its own line with only % and newline escaped, so spaces, %0A and newlines survive', () => {
    const spec = encodeGuestSpec({
      root: '/run/vmactor/rootfs',
      cwd: '/work dir',
      uid: 1000,
      gid: 100,
      env: ['PATH=/bin', 'A=x\ny', 'P=100%0A% '],
      args: ['sh', '-c', 'echo "$A"'],
    });
    const text = Buffer.from(spec, 'base64').toString();
    expect(text).toContain('env P=100%250A%25 \n');
    const lines = text.trimEnd().split('\n');
    // What the guest's specval does: the key up to the first space, then newline first, then %.
    const decoded = lines.map((l) => {
      const at = l.indexOf(' ');
      return [
        l.slice(0, at),
        l
          .slice(at + 1)
          .replaceAll('%0A', '\n')
          .replaceAll('%25', '%'),
      ];
    });
    expect(decoded).toEqual([
      ['root', '/run/vmactor/rootfs'],
      ['cwd', '/work dir'],
      ['uid', '1000'],
      ['gid', '100'],
      ['env', 'PATH=/bin'],
      ['env', 'A=x\ny'],
      ['env', 'P=100%0A% '],
      ['arg', 'sh'],
      ['arg', '-c'],
      ['arg', 'echo "$A"'],
    ]);
  });

  it('carries the container memory limit as a memlimit line after gid, only when set', () => {
    const base = { root: '/r', cwd: '/', uid: 0, gid: 0, env: ['A=1'], args: ['x'] };
    const lines = (spec: Parameters<typeof encodeGuestSpec>[0]) =>
      Buffer.from(encodeGuestSpec(spec), 'base64').toString().trimEnd().split('\n');
    expect(lines({ ...base, memoryLimit: 33_554_432 })).toEqual([
      'root /r',
      'cwd /',
      'uid 0',
      'gid 0',
      'memlimit 33554432',
      'env A=1',
      'arg x',
    ]);
    expect(lines(base).some((l) => l.startsWith('memlimit'))).toBe(false);
    expect(() => encodeGuestSpec({ ...base, memoryLimit: -1 })).toThrow(
      /`memoryLimit` to be a non-negative integer/,
    );
  });

  it('refuses an empty argv, an env entry without =, and a negative uid', () => {
    const base = { root: '/r', cwd: '/', uid: 0, gid: 0, env: [], args: ['x'] };
    expect(() => encodeGuestSpec({ ...base, args: [] })).toThrow(/`process.args` to be non-empty/);
    expect(() => encodeGuestSpec({ ...base, env: ['NOPE'] })).toThrow(/KEY=VALUE.*, got `NOPE`/);
    expect(() => encodeGuestSpec({ ...base, env: ['-u=x'] })).toThrow(/not starting with -/);
    expect(() => encodeGuestSpec({ ...base, uid: -1 })).toThrow(/`uid` to be a non-negative integer/);
  });
});

describe('proc events from the guest', () => {
  it('parses output and exit events apart from kernel uevents', () => {
    expect(
      parseGuestLine(
        'event {"subsystem":"proc","action":"output","key":"p0","stream":"stdout","base64":"aGkK"}',
      ),
    ).toEqual({
      kind: 'proc',
      event: { subsystem: 'proc', action: 'output', key: 'p0', stream: 'stdout', base64: 'aGkK' },
    });
    expect(
      parseGuestLine('event {"subsystem":"proc","action":"exit","key":"p0","pid":7,"status":143}'),
    ).toMatchObject({
      kind: 'proc',
      event: { action: 'exit', pid: 7, status: 143 },
    });
    expect(
      parseGuestLine('event {"subsystem":"proc","action":"exit","key":"p0","pid":7,"status":137,"oom":true}'),
    ).toMatchObject({ kind: 'proc', event: { status: 137, oom: true } });
  });

  it('reports malformed proc events as invalid lines', () => {
    expect(parseGuestLine('event {"subsystem":"proc","action":"exit","key":"p0","pid":7}').kind).toBe(
      'invalid',
    );
    expect(
      parseGuestLine('event {"subsystem":"proc","action":"exit","key":"p0","pid":7,"status":1,"oom":"yes"}')
        .kind,
    ).toBe('invalid');
    expect(
      parseGuestLine(
        'event {"subsystem":"proc","action":"output","key":"../x","stream":"stdout","base64":""}',
      ).kind,
    ).toBe('invalid');
  });
});

describe('containerd protobuf', () => {
  it('knows every method of containerd.task.v2.Task from the vendored shim.proto', () => {
    expect(serviceMethods('containerd.task.v2.Task').sort()).toEqual(
      'Checkpoint CloseIO Connect Create Delete Exec Kill Pause Pids ResizePty Resume Shutdown Start State Stats Update Wait'.split(
        ' ',
      ),
    );
  });

  it('prints the encoded DeleteResponse{exit_status: 137} from `delete` when nothing is left', () => {
    expect(decodeMessage('containerd.task.v2.DeleteResponse', NOTHING_LEFT_DELETE_RESPONSE)).toEqual(
      decodeMessage(
        'containerd.task.v2.DeleteResponse',
        encodeMessage('containerd.task.v2.DeleteResponse', { pid: 0, exit_status: 137, exited_at: null }),
      ),
    );
    expect(decodeMessage('containerd.task.v2.DeleteResponse', NOTHING_LEFT_DELETE_RESPONSE)).toMatchObject({
      pid: 0,
      exit_status: 137,
    });
  });

  it('maps the guest cgroup counters to cgroup v2 Metrics that round-trip through the vendored proto', () => {
    const m = cgroupMetrics({
      'memory.current': 4096,
      'memory.max': 0,
      'pids.current': 2,
      'pids.max': 0,
      'memory.stat': { anon: 1024, file: 2048, pgfault: 9, unknown_key: 1 },
      'cpu.stat': { usage_usec: 500, user_usec: 300, system_usec: 200 },
      'memory.events': { oom: 1, oom_kill: 1 },
    });
    expect(m).toEqual({
      pids: { current: 2, limit: 0 },
      cpu: { usage_usec: 500, user_usec: 300, system_usec: 200 },
      memory: { anon: 1024, file: 2048, pgfault: 9, usage: 4096, usage_limit: 0 },
      memory_events: { oom: 1, oom_kill: 1 },
    });
    const any = toAny('io.containerd.cgroups.v2.Metrics', m);
    expect(any.type_url).toBe('io.containerd.cgroups.v2.Metrics');
    expect(decodeMessage('io.containerd.cgroups.v2.Metrics', any.value)).toMatchObject({
      pids: { current: 2 },
      memory: { usage: 4096, anon: 1024 },
      memory_events: { oom_kill: 1 },
    });
  });

  it('round-trips a DeleteResponse with its timestamp', () => {
    const bytes = encodeMessage('containerd.task.v2.DeleteResponse', {
      pid: 12,
      exit_status: 137,
      exited_at: { seconds: 1_700_000_000, nanos: 5 },
    });
    expect(decodeMessage('containerd.task.v2.DeleteResponse', bytes)).toEqual({
      pid: 12,
      exit_status: 137,
      exited_at: { seconds: 1_700_000_000, nanos: 5 },
    });
  });
});
