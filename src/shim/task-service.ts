// containerd's `containerd.task.v2.Task` service for one container whose processes run in a vmactor VM.
import type { Logger } from 'pino';
import { persisterOf } from '../sandbox/persist.js';
import { shimAccelerator } from './accelerator.js';
import { type BootTimings, ContainerVm, type GuestExit } from './container-vm.js';
import {
  ShimAlreadyExistsError,
  ShimInputError,
  ShimNotFoundError,
  ShimNotImplementedError,
  ShimStateError,
} from './errors.js';
import { type TaskEventSink, timestampOf } from './events.js';
import { cgroupMetrics } from './metrics.js';
import { type OciProcess, parseOciProcess, readBundleConfig } from './oci-spec.js';
import type { VmHandoff } from './preboot.js';
import { decodeMessage, encodeMessage, type ShimMessageName, serviceMethods, toAny } from './proto.js';
import { type ShimMessages, TASK_STATUS } from './proto-types.js';
import { mountRootfs, unmountAll } from './rootfs-mounts.js';
import type { ShimPaths } from './shim-paths.js';
import { clearShimState, shimStateFor, writeShimState } from './shim-state.js';
import { TaskProcess } from './task-process.js';
import { trace } from './trace.js';
import type { TtrpcServer } from './ttrpc-server.js';

/** The Task service name on the wire. */
export const TASK_SERVICE = 'containerd.task.v2.Task';

/** Options of {@link TaskService}. */
export interface TaskServiceOptions {
  readonly namespace: string;
  readonly paths: ShimPaths;
  readonly events: TaskEventSink;
  readonly logger: Logger;
  /** Called after a Shutdown with nothing left to serve (the shim then exits). */
  readonly onShutdown: () => void;
  /** Boots the VM (tests may pass a smaller one). Default {@link ContainerVm.boot}. */
  readonly boot?: typeof ContainerVm.boot;
}

interface Container {
  readonly id: string;
  readonly bundle: string;
  readonly rootfsMounts: string[];
  readonly vm: ContainerVm;
  readonly init: TaskProcess;
  readonly execs: Map<string, TaskProcess>;
  paused: boolean;
}

/** A VM booted before Create for the bundle the shim was started in (see {@link TaskService.adopt}). */
interface EarlyBoot {
  readonly result: Promise<{ bundle: string; rootfs: string; vm: ContainerVm } | undefined>;
}

/** The Task methods this shim provides; the others (Checkpoint, ResizePty, Update) are UNIMPLEMENTED. */
const PROVIDED: ReadonlySet<string> = new Set(
  'Create Start State Wait Kill Delete Pids Pause Resume Exec CloseIO Stats Connect Shutdown'.split(' '),
);

type Req<N extends ShimMessageName> = ShimMessages[N];
const T = 'containerd.task.v2.';

function toSpec(p: OciProcess, memoryLimit?: number): TaskProcess['spec'] {
  const spec = {
    cwd: p.cwd ?? '/',
    uid: p.user?.uid ?? 0,
    gid: p.user?.gid ?? 0,
    env: p.env ?? [],
    args: p.args,
  };
  return memoryLimit === undefined ? spec : { ...spec, memoryLimit };
}

function exitFields(p: TaskProcess): {
  exit_status: number;
  exited_at: { seconds: number; nanos: number } | null;
} {
  return { exit_status: p.exit?.status ?? 0, exited_at: p.exit ? timestampOf(p.exit.at) : null };
}

/**
 * The Task service: one container per shim, its processes in one sandbox VM (booted by Create,
 * stopped by the init process's Delete). Events go to `events` in the contract's order.
 *
 * @example
 * ```ts
 * const service = new TaskService({ namespace, paths, events, logger, onShutdown: () => process.exit(0) });
 * service.register(server);
 * ```
 */
export class TaskService {
  private container: Container | undefined;
  private early: EarlyBoot | undefined;
  /** The teardown a Delete of the init process started. */
  private stopping: Promise<void> = Promise.resolve();
  private creating = false;
  private nextKey = 0;

  constructor(private readonly options: TaskServiceOptions) {}

  /** The boot split of the VM (for the benchmark's log line). */
  get timings(): BootTimings | undefined {
    return this.container?.vm.timings;
  }

  /** Registers every Task method on `server`; the ones not provided answer UNIMPLEMENTED. */
  register(server: TtrpcServer): void {
    const typed = <I extends ShimMessageName, O extends ShimMessageName>(
      method: string,
      input: I,
      output: O,
      fn: (req: Req<I>) => Promise<Req<O>>,
    ) =>
      server.register(TASK_SERVICE, method, async (payload) => {
        trace('call', { method });
        const reply = encodeMessage(output, await fn(decodeMessage(input, payload)));
        trace('reply', { method });
        return reply;
      });
    const empty = 'google.protobuf.Empty';
    typed('Create', `${T}CreateTaskRequest`, `${T}CreateTaskResponse`, (r) => this.create(r));
    typed('Start', `${T}StartRequest`, `${T}StartResponse`, (r) => this.start(r));
    typed('State', `${T}StateRequest`, `${T}StateResponse`, async (r) => this.state(r));
    typed('Wait', `${T}WaitRequest`, `${T}WaitResponse`, (r) => this.wait(r));
    typed('Kill', `${T}KillRequest`, empty, async (r) => {
      await this.kill(r);
      return {};
    });
    typed('Delete', `${T}DeleteRequest`, `${T}DeleteResponse`, (r) => this.delete(r));
    typed('Pids', `${T}PidsRequest`, `${T}PidsResponse`, async (r) => this.pids(r));
    typed('Pause', `${T}PauseRequest`, empty, async (r) => {
      await this.pause(r.id);
      return {};
    });
    typed('Resume', `${T}ResumeRequest`, empty, async (r) => {
      await this.resume(r.id);
      return {};
    });
    typed('Exec', `${T}ExecProcessRequest`, empty, async (r) => {
      this.exec(r);
      return {};
    });
    typed('CloseIO', `${T}CloseIORequest`, empty, async (r) => {
      this.lookup(r.id, r.exec_id);
      return {};
    });
    typed('Stats', `${T}StatsRequest`, `${T}StatsResponse`, async (r) => {
      const c = this.need(r.id);
      // A paused guest cannot answer; say so rather than wait out the agent's deadline.
      if (c.paused) throw new ShimStateError(`container ${r.id} is paused: its guest cannot report stats`);
      return { stats: toAny('io.containerd.cgroups.v2.Metrics', cgroupMetrics(await c.vm.stats())) };
    });
    typed('Connect', `${T}ConnectRequest`, `${T}ConnectResponse`, async () => ({
      shim_pid: process.pid,
      task_pid: this.container?.init.pid ?? 0,
      version: 'vmactor',
    }));
    typed('Shutdown', `${T}ShutdownRequest`, empty, async (r) => {
      this.shutdown(r.now);
      return {};
    });
    for (const method of serviceMethods(TASK_SERVICE).filter((m) => !PROVIDED.has(m))) {
      server.register(TASK_SERVICE, method, async () => {
        throw new ShimNotImplementedError(`${TASK_SERVICE}/${method} is not implemented by the vmactor shim`);
      });
    }
  }

  private need(id: string): Container {
    const c = this.container;
    if (!c || c.id !== id) throw new ShimNotFoundError(`container ${id} not found`);
    return c;
  }

  private lookup(id: string, execId: string): TaskProcess {
    const c = this.need(id);
    if (execId === '') return c.init;
    const p = c.execs.get(execId);
    if (!p) throw new ShimNotFoundError(`exec ${execId} of container ${id} not found`);
    return p;
  }

  /**
   * Takes over the VM `start` launched for its bundle (`prebootVm`, preboot.ts) once the hand-off
   * arrives. Create takes it if it asks for that bundle and rootfs with no mounts, else stops it;
   * a VM that cannot be taken over is left to Create to boot again.
   */
  adopt(handoff: Promise<VmHandoff | undefined>): void {
    const { logger } = this.options;
    const result = handoff.then(async (h) => {
      if (!h) return undefined;
      trace('adopt');
      return { bundle: h.bundle, rootfs: h.rootfs, vm: await ContainerVm.attach(h, logger) };
    });
    this.early = {
      result: result.catch((err: unknown) => {
        logger.warn({ err }, "taking over start's VM failed; Create boots one");
        return undefined;
      }),
    };
  }

  /** The early VM if it fits this Create; a VM that does not fit is stopped. */
  private async takeEarly(
    bundle: string,
    rootfs: string,
    mounts: readonly string[],
  ): Promise<ContainerVm | undefined> {
    const early = this.early;
    this.early = undefined;
    const got = await early?.result;
    if (!got) return undefined;
    if (got.bundle === bundle && got.rootfs === rootfs && mounts.length === 0) return got.vm;
    await got.vm.stop().catch(() => undefined);
    return undefined;
  }

  private async bootVm(rootfs: string): Promise<ContainerVm> {
    const { paths, logger } = this.options;
    const boot = this.options.boot ?? ContainerVm.boot;
    const accelerator = await shimAccelerator(paths.base);
    return boot({ sandboxId: paths.sandboxId, rootfs, runBase: paths.vmBase, logger, accelerator });
  }

  private async create(r: Req<'containerd.task.v2.CreateTaskRequest'>): Promise<{ pid: number }> {
    if (this.container || this.creating) throw new ShimAlreadyExistsError(`container ${r.id} already exists`);
    if (r.terminal) throw new ShimInputError('Expected `terminal` to be false: TTYs are not supported yet');
    if (r.checkpoint !== '') throw new ShimNotImplementedError('Checkpoint restore is not implemented');
    this.creating = true;
    const { paths, logger } = this.options;
    let mounts: string[] = [];
    try {
      await this.stopping; // a container deleted before: its VM (same sandbox id) must be gone
      const config = await readBundleConfig(r.bundle);
      mounts = await mountRootfs(r.bundle, r.rootfs);
      const rootfs = r.rootfs.length > 0 ? (mounts[0] ?? config.rootPath) : config.rootPath;
      writeShimState(
        paths.stateFile,
        shimStateFor(paths, this.options.namespace, { id: r.id, bundle: r.bundle, rootfsMounts: mounts }),
      );
      const vm = (await this.takeEarly(r.bundle, rootfs, mounts)) ?? (await this.bootVm(rootfs));
      logger.info({ timings: vm.timings }, 'sandbox VM ready');
      trace('vm-ready', { ...vm.timings });
      const io = { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal };
      // The init process carries the container's memory limit to the guest's container cgroup.
      const init = new TaskProcess('', this.key(), toSpec(config.process, config.memoryLimit), io);
      this.container = {
        id: r.id,
        bundle: r.bundle,
        rootfsMounts: mounts,
        vm,
        init,
        execs: new Map(),
        paused: false,
      };
    } catch (err) {
      await unmountAll(mounts).catch(() => undefined);
      throw err;
    } finally {
      this.creating = false;
    }
    this.options.events.publish('containerd.events.TaskCreate', {
      container_id: r.id,
      bundle: r.bundle,
      rootfs: r.rootfs,
      io: { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal },
      checkpoint: '',
      pid: 0,
    });
    return { pid: 0 };
  }

  private key(): string {
    return `p${this.nextKey++}`;
  }

  private async start(r: Req<'containerd.task.v2.StartRequest'>): Promise<{ pid: number }> {
    const c = this.need(r.id);
    const p = this.lookup(r.id, r.exec_id);
    if (p.status !== TASK_STATUS.CREATED)
      throw new ShimStateError(`process ${r.exec_id || r.id} was already started`);
    if (c.paused) throw new ShimStateError(`container ${r.id} is paused`);
    const { pid, exit } = await c.vm.run(p.key, p.spec, p.io);
    p.pid = pid;
    p.status = TASK_STATUS.RUNNING;
    const { events } = this.options;
    if (p.execId === '') {
      writeShimState(
        this.options.paths.stateFile,
        shimStateFor(this.options.paths, this.options.namespace, { ...c, initPid: pid }),
      );
      events.publish('containerd.events.TaskStart', { container_id: c.id, pid });
    } else {
      events.publish('containerd.events.TaskExecStarted', { container_id: c.id, exec_id: p.execId, pid });
    }
    void exit.then((e) => this.exited(c, p, e));
    return { pid };
  }

  private exited(c: Container, p: TaskProcess, e: GuestExit): void {
    if (p.exit) return;
    p.markExited({ ...e, pid: e.pid || p.pid });
    // As in a container's pid namespace: when the init process ends, its execs are killed.
    if (p.execId === '')
      for (const x of c.execs.values()) if (x.running) void c.vm.kill(x.key, 9).catch(() => undefined);
    // As runc's shim: the OOM event before the exit it caused.
    if (e.oom) this.options.events.publish('containerd.events.TaskOOM', { container_id: c.id });
    this.options.events.publish('containerd.events.TaskExit', {
      container_id: c.id,
      id: p.execId || c.id,
      pid: e.pid || p.pid,
      exit_status: e.status,
      exited_at: timestampOf(e.at),
    });
  }

  private state(r: Req<'containerd.task.v2.StateRequest'>): Req<'containerd.task.v2.StateResponse'> {
    const c = this.need(r.id);
    const p = this.lookup(r.id, r.exec_id);
    const status = c.paused && p.running ? TASK_STATUS.PAUSED : p.status;
    return {
      id: r.id,
      exec_id: r.exec_id,
      bundle: c.bundle,
      pid: p.pid,
      status,
      stdin: p.io.stdin,
      stdout: p.io.stdout,
      stderr: p.io.stderr,
      terminal: p.io.terminal,
      ...exitFields(p),
    };
  }

  private async wait(
    r: Req<'containerd.task.v2.WaitRequest'>,
  ): Promise<Req<'containerd.task.v2.WaitResponse'>> {
    const e = await this.lookup(r.id, r.exec_id).exited;
    return { exit_status: e.status, exited_at: timestampOf(e.at) };
  }

  private async kill(r: Req<'containerd.task.v2.KillRequest'>): Promise<void> {
    const c = this.need(r.id);
    const p = this.lookup(r.id, r.exec_id);
    if (p.status === TASK_STATUS.STOPPED)
      throw new ShimNotFoundError(`process ${r.exec_id || r.id} already finished`);
    if (p.status === TASK_STATUS.CREATED) {
      // Never started: nothing runs in the guest; it ends as if killed by the signal.
      this.exited(c, p, { pid: 0, status: 128 + r.signal, at: new Date(), oom: false });
      return;
    }
    await c.vm.kill(p.key, r.signal);
    // `ctr task kill --all`: every process of the container gets the signal.
    if (r.all && p.execId === '') {
      for (const x of c.execs.values())
        if (x.running) await c.vm.kill(x.key, r.signal).catch(() => undefined);
    }
  }

  private async delete(
    r: Req<'containerd.task.v2.DeleteRequest'>,
  ): Promise<Req<'containerd.task.v2.DeleteResponse'>> {
    const c = this.need(r.id);
    const p = this.lookup(r.id, r.exec_id);
    if (p.running) throw new ShimStateError(`process ${r.exec_id || r.id} is running; kill it first`);
    const reply = { pid: p.pid, ...exitFields(p) };
    if (p.execId !== '') {
      c.execs.delete(p.execId);
      return reply;
    }
    for (const e of c.execs.values()) if (e.running) await c.vm.kill(e.key, 9).catch(() => undefined);
    this.container = undefined;
    // The VM stops after the reply: the exit status is known, and the shim does not exit before the
    // stop finished (dispose), while containerd's `delete` waits for this process to exit.
    this.stopping = this.teardown(c);
    this.options.events.publish('containerd.events.TaskDelete', {
      container_id: c.id,
      id: c.id,
      pid: p.pid,
      exit_status: reply.exit_status,
      exited_at: reply.exited_at,
    });
    return reply;
  }

  /** Stops the container's VM and unmounts its rootfs; then nothing is left for `delete` to clean. */
  private async teardown(c: Container): Promise<void> {
    try {
      await c.vm.stop();
      await unmountAll(c.rootfsMounts);
      clearShimState(this.options.paths.stateFile);
    } catch (err) {
      // shim.json stays: containerd's `delete` (after this shim exits) cleans up from it.
      this.options.logger.warn({ err, id: c.id }, "stopping the container's VM failed");
    }
  }

  private pids(r: Req<'containerd.task.v2.PidsRequest'>): Req<'containerd.task.v2.PidsResponse'> {
    const c = this.need(r.id);
    const all = [c.init, ...c.execs.values()].filter((p) => p.running);
    return { processes: all.map((p) => ({ pid: p.pid, info: null })) };
  }

  private async pause(id: string): Promise<void> {
    const c = this.need(id);
    if (c.paused) return;
    await c.vm.sandbox.pause();
    // containerd hears PAUSED once the VM's state.json says so (written just after the pause).
    await persisterOf(c.vm.sandbox)?.idle();
    c.paused = true;
    this.options.events.publish('containerd.events.TaskPaused', { container_id: id });
  }

  private async resume(id: string): Promise<void> {
    const c = this.need(id);
    if (!c.paused) throw new ShimStateError(`container ${id} is not paused`);
    await c.vm.sandbox.resume();
    await persisterOf(c.vm.sandbox)?.idle();
    c.paused = false;
    this.options.events.publish('containerd.events.TaskResumed', { container_id: id });
  }

  private exec(r: Req<'containerd.task.v2.ExecProcessRequest'>): void {
    const c = this.need(r.id);
    if (r.exec_id === '' || c.execs.has(r.exec_id))
      throw new ShimAlreadyExistsError(`exec ${r.exec_id} already exists`);
    if (r.terminal) throw new ShimInputError('Expected `terminal` to be false: TTYs are not supported yet');
    const process = parseOciProcess(Buffer.from(r.spec?.value ?? []).toString('utf8'));
    const io = { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal };
    c.execs.set(r.exec_id, new TaskProcess(r.exec_id, this.key(), toSpec(process), io));
    this.options.events.publish('containerd.events.TaskExecAdded', {
      container_id: c.id,
      exec_id: r.exec_id,
    });
  }

  private shutdown(now: boolean): void {
    if ((this.container || this.creating) && !now) return;
    // After the response is written: flush events, then let the shim exit.
    setImmediate(() => this.options.onShutdown());
  }

  /** Stops the VMs still there, an early one and the container's (the shim is going away). */
  async dispose(): Promise<void> {
    const early = await this.early?.result;
    this.early = undefined;
    await early?.vm.stop().catch(() => undefined);
    await this.stopping;
    const c = this.container;
    this.container = undefined;
    if (!c) return;
    await c.vm.stop().catch(() => undefined);
    await unmountAll(c.rootfsMounts).catch(() => undefined);
  }
}
