// containerd 1.6 drives containerd-shim-vmactor-v1 through `ctr` only: each container's process runs
// in a vmactor VM (TCG) — output, exit codes, kill, pause/resume, exec, and cleanup after a dead shim.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TraceLine } from '../../src/shim/trace.js';
import { processesMentioning, SHIM, startContainerd, type TestContainerd } from '../helpers/containerd.js';
import { type CtrEvents, ctrEvents } from '../helpers/ctr-events.js';
import { guest } from '../helpers/env.js';

guest('cloud');
let cd: TestContainerd;
let events: CtrEvents;

/** The shims' step trace (VMACTOR_SHIM_TRACE): which process launched and which adopted the VM. */
const traceFile = join(tmpdir(), `vmshim-trace-${process.pid}.jsonl`);
const traced = (since: number): TraceLine[] =>
  readFileSync(traceFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as TraceLine)
    .filter((l) => l.t >= since);

beforeAll(async () => {
  cd = await startContainerd(`shim${process.pid}`, { VMACTOR_SHIM_TRACE: traceFile });
  events = await ctrEvents(cd.socket);
}, 60_000);

afterAll(async () => {
  events?.stop();
  await cd?.stop();
  rmSync(traceFile, { force: true });
});

/** `ctr run` through our shim: `--rm` (wait, then remove) or `-d` (detached). */
const ctrRun = (mode: '--rm' | '-d', id: string, cmd: string[]) => [
  'run',
  mode,
  '--runtime',
  SHIM,
  '--rootfs',
  cd.rootfs,
  id,
  ...cmd,
];
const run = (id: string, ...cmd: string[]) => ctrRun('--rm', id, cmd);
const runDetached = (id: string, ...cmd: string[]) => ctrRun('-d', id, cmd);
const of = (id: string) => (e: { event: Record<string, unknown> }) => e.event.container_id === id;

function taskStatus(ls: string, id: string): string | undefined {
  return ls
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((cols) => cols[0] === id)?.[2];
}

const entries = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

async function expectNothingLeft(): Promise<void> {
  expect(await processesMentioning(cd.shimDir)).toEqual([]);
  expect(entries(join(cd.shimDir, 'task'))).toEqual([]);
  expect(entries(join(cd.shimDir, 'vm'))).toEqual([]);
}

// VM boots under TCG on a busy host: each test's deadline is generous (the benchmark has the speed).
describe('containerd-shim-vmactor-v1 under containerd 1.6', { timeout: 180_000 }, () => {
  it('ctr run prints what /bin/echo hello wrote in the VM, with the task events in contract order', async () => {
    const since = performance.timeOrigin + performance.now();
    const r = await cd.ctr(run('t1', '/bin/echo', 'hello'));
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('hello');
    await events.next((e) => e.topic === '/tasks/delete' && of('t1')(e));
    const topics = events.seen.filter(of('t1')).map((e) => e.topic);
    expect(topics).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    // `start` launched the VM and the serving shim took it over: one VM, no second boot at Create.
    const steps = traced(since);
    const launched = steps.filter((l) => l.step === 'vm-launch');
    const adopted = steps.filter((l) => l.step === 'adopt');
    const started = steps.find((l) => l.step === 'main' && l.action === 'start');
    expect(launched.map((l) => l.pid)).toEqual([started?.pid]);
    expect(adopted).toHaveLength(1);
    expect(adopted[0]?.pid).not.toBe(started?.pid);
    expect(steps.filter((l) => l.step === 'vm-ready').map((l) => l.pid)).toEqual([adopted[0]?.pid]);
    await expectNothingLeft();
  });

  it('sh -c "exit 3" makes ctr exit 3, relays stderr apart from stdout, and passes args and env byte for byte', async () => {
    const script = 'printf "out[%s][%s][%s]" "$A" "$0" "$1"; echo err >&2; exit 3';
    const [, mode, ...rest] = run('t2', 'sh', '-c', script, ' two  words ', '100%25\n%0A');
    const r = await cd.ctr(['run', mode ?? '--rm', '--env', 'A=x\ny %0A%', ...rest]);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe('out[x\ny %0A%][ two  words ][100%25\n%0A]');
    expect(r.stderr).toBe('err');
  });

  it('a process over the OCI memory limit is OOM-killed in the guest: TaskOOM, then exit 137', async () => {
    const [, mode, ...rest] = run('t8', 'sh', '-c', 'x=0123456789; while :; do x=$x$x; done');
    const limit = String(32 * 1024 * 1024);
    const r = await cd.ctr(['run', mode ?? '--rm', '--memory-limit', limit, ...rest]);
    expect(r.exitCode).toBe(137);
    await events.next((e) => e.topic === '/tasks/delete' && of('t8')(e));
    const topics = events.seen.filter(of('t8')).map((e) => e.topic);
    expect(topics).toEqual(['/tasks/create', '/tasks/start', '/tasks/oom', '/tasks/exit', '/tasks/delete']);
  });

  it('ctr task kill ends sleep 1000 with the signal status (128 + SIGTERM)', async () => {
    const running = cd.ctr(run('t3', 'sleep', '1000'));
    await events.next((e) => e.topic === '/tasks/start' && of('t3')(e));
    const kill = await cd.ctr(['task', 'kill', 't3']);
    expect(kill.exitCode).toBe(0);
    expect((await running).exitCode).toBe(143);
    const exit = await events.next((e) => e.topic === '/tasks/exit' && of('t3')(e));
    expect(exit.event.exit_status).toBe(143);
  });

  it('pause stops the VM (PAUSED), resume runs it again (RUNNING), and exec runs a second process', async () => {
    expect((await cd.ctr(runDetached('t4', 'sleep', '1000'))).exitCode).toBe(0);
    expect((await cd.ctr(['task', 'pause', 't4'])).exitCode).toBe(0);
    expect(taskStatus((await cd.ctr(['task', 'ls'])).stdout, 't4')).toBe('PAUSED');
    // The guest really stopped: the sandbox (QMP `stop`) persisted its paused phase.
    const vmDirs = readdirSync(join(cd.shimDir, 'vm'));
    expect(vmDirs).toHaveLength(1);
    const state = JSON.parse(readFileSync(join(cd.shimDir, 'vm', vmDirs[0] ?? '', 'state.json'), 'utf8'));
    expect(state.phase).toBe('paused');
    // A paused guest cannot report: the shim refuses at once (containerd drops the error).
    const pausedMetrics = await cd.ctr(['task', 'metrics', 't4'], { timeoutMs: 10_000 });
    expect(pausedMetrics.exitCode).not.toBe(0);
    expect(pausedMetrics.stderr).toContain('no metrics received');
    expect((await cd.ctr(['task', 'resume', 't4'])).exitCode).toBe(0);
    expect(taskStatus((await cd.ctr(['task', 'ls'])).stdout, 't4')).toBe('RUNNING');
    const topics = events.seen.filter(of('t4')).map((e) => e.topic);
    expect(topics).toEqual(['/tasks/create', '/tasks/start', '/tasks/paused', '/tasks/resumed']);

    const exec = await cd.ctr([
      'task',
      'exec',
      '--exec-id',
      'e1',
      't4',
      'sh',
      '-c',
      'echo second $(id -u); exit 5',
    ]);
    expect(exec.stdout).toBe('second 0');
    expect(exec.exitCode).toBe(5);
    const pids = await cd.ctr(['task', 'ps', 't4']);
    expect(pids.exitCode).toBe(0);

    expect((await cd.ctr(['task', 'exec', '-d', '--exec-id', 'e2', 't4', 'sleep', '1000'])).exitCode).toBe(0);
    await events.next((e) => e.topic === '/tasks/exec-started' && e.event.exec_id === 'e2');
    // Metrics from the guest's container cgroup: both sleeps are in it.
    const metrics = await cd.ctr(['task', 'metrics', '--format', 'json', 't4']);
    expect(metrics.stderr).toBe('');
    const m = JSON.parse(metrics.stdout) as {
      pids: { current: number };
      memory: { usage: number };
      cpu: { usage_usec: number };
    };
    expect(m.pids.current).toBeGreaterThanOrEqual(2);
    expect(m.memory.usage).toBeGreaterThan(0);
    expect(m.cpu.usage_usec).toBeGreaterThan(0);
    expect((await cd.ctr(['task', 'kill', '-s', 'SIGKILL', 't4'])).exitCode).toBe(0);
    const exit = await events.next((e) => e.topic === '/tasks/exit' && e.event.id === 't4');
    expect(exit.event.exit_status).toBe(137);
    // The init process ended: its exec is killed with it, as in the container's pid namespace.
    const execExit = await events.next((e) => e.topic === '/tasks/exit' && e.event.id === 'e2');
    expect(execExit.event.exit_status).toBe(137);
    expect((await cd.ctr(['task', 'delete', 't4'])).exitCode).toBe(0);
    expect((await cd.ctr(['container', 'rm', 't4'])).exitCode).toBe(0);
    await expectNothingLeft();
  });

  it('after SIGKILL of the shim, containerd runs its delete: no QEMU, socket or dir is left', async () => {
    expect((await cd.ctr(runDetached('t5', 'sleep', '1000'))).exitCode).toBe(0);
    const [task] = readdirSync(join(cd.shimDir, 'task'));
    const taskDir = join(cd.shimDir, 'task', task ?? '');
    const shimPid = Number(readFileSync(join(taskDir, 'shim.pid'), 'utf8'));
    expect(existsSync(join(taskDir, 'ttrpc.sock'))).toBe(true);
    expect(await processesMentioning(cd.shimDir)).not.toEqual([]);
    process.kill(shimPid, 'SIGKILL');
    // containerd notices the dead shim, runs `shim delete` and publishes the exit it returned.
    const exit = await events.next((e) => e.topic === '/tasks/exit' && of('t5')(e));
    expect(exit.event.exit_status).toBe(137);
    const del = await cd.ctr(['task', 'delete', 't5']);
    expect(del.exitCode === 0 || /not found/.test(del.stderr)).toBe(true);
    expect((await cd.ctr(['container', 'rm', 't5'])).exitCode).toBe(0);
    await expectNothingLeft();
  });

  it('a VM killed under its task ends the task with 137, and delete cleans up', async () => {
    const running = cd.ctr(run('t7', 'sleep', '1000'));
    await events.next((e) => e.topic === '/tasks/start' && of('t7')(e));
    const [vmDir] = entries(join(cd.shimDir, 'vm'));
    const qemuPid = Number(readFileSync(join(cd.shimDir, 'vm', vmDir ?? '', 'pid'), 'utf8'));
    process.kill(qemuPid, 'SIGKILL');
    expect((await running).exitCode).toBe(137);
    await expectNothingLeft();
  });

  it('refuses a rootfs that is not a directory with a clear error, before any VM boots', async () => {
    const missing = join(cd.dir, 'no-such-rootfs');
    const r = await cd.ctr(['run', '--rm', '--runtime', SHIM, '--rootfs', missing, 't6', '/bin/true']);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain(`Expected \`root.path\` to be a directory, got \`${missing}\``);
    await cd.ctr(['container', 'rm', 't6']);
    await expectNothingLeft();
  });
});
