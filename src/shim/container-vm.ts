// One container's VM: a vmactor sandbox sharing the rootfs over virtio-fs, running processes through the agent.
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Logger } from 'pino';
import type { Subscription } from 'rxjs';
import type { GuestAgentClient } from '../guest/agent-client.js';
import type { Accelerator } from '../guest/kvm-probe.js';
import { guestArtifacts } from '../guest/paths.js';
import type { GuestContainerStats, GuestProcEvent } from '../guest/protocol.js';
import { attachSandbox } from '../sandbox/attach.js';
import { createSandbox } from '../sandbox/create.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import { ShimVmError } from './errors.js';
import { encodeGuestSpec, type GuestProcessSpec } from './guest-spec.js';

/** The virtio-fs tag of the container's rootfs share. */
export const ROOTFS_TAG = 'vmactor-rootfs';

/** Where the guest mounts the rootfs share (a tmpfs path of the default guest). */
export const GUEST_ROOTFS = '/run/vmactor/rootfs';

/** How long booting to a mounted rootfs may take (TCG on a busy host). */
const BOOT_DEADLINE_MS = 120_000;

/** Exit status of a process whose VM went away under it (as if SIGKILLed: 128 + 9). */
export const VM_GONE_STATUS = 137;

/** A process's end as the guest reported it. */
export interface GuestExit {
  readonly pid: number;
  /** The exit code, or 128 + the signal number. */
  readonly status: number;
  readonly at: Date;
  /** Ended by the OOM killer (SIGKILLed while the container cgroup counted an OOM kill). */
  readonly oom: boolean;
}

/** FIFOs (or files) the process's output goes to; '' discards. */
export interface ProcessIo {
  readonly stdout: string;
  readonly stderr: string;
}

/** Where the boot's time went, in ms (the benchmark's split). */
export interface BootTimings {
  readonly vmStartMs: number;
  readonly agentReadyMs: number;
  readonly rootfsMountMs: number;
}

/** Options of {@link ContainerVm.boot}. */
export interface ContainerVmOptions {
  /** The sandbox id (ASCII, ≤ 64; derived from namespace and container id by the shim). */
  readonly sandboxId: string;
  /** Host directory of the container's root filesystem. */
  readonly rootfs: string;
  /** Run base of the sandbox (its run dir is `<runBase>/<sandboxId>`). */
  readonly runBase: string;
  readonly logger: Logger;
  /** TCG or KVM (from {@link shimAccelerator}). */
  readonly accelerator: Accelerator;
  /** Guest memory in MiB. Default 256. */
  readonly memoryMiB?: number;
}

interface Route {
  readonly out: WriteStream | undefined;
  readonly err: WriteStream | undefined;
  readonly exit: (e: GuestExit) => void;
}

/** Wall-clock ms with sub-ms precision (comparable across processes). */
const epochMs = () => performance.timeOrigin + performance.now();

function openSink(path: string): WriteStream | undefined {
  // O_RDWR: opening a FIFO this way never blocks, whether or not containerd's reader is there yet.
  if (path === '') return undefined;
  const s = createWriteStream(path, { flags: 'r+' });
  s.on('error', () => {});
  return s;
}

function closeSink(s: WriteStream | undefined): Promise<void> {
  if (!s || s.destroyed) return Promise.resolve();
  return new Promise((resolve) => s.end(() => resolve()));
}

/**
 * The sandbox VM of one container. Processes run chrooted in the shared rootfs; their output is
 * written to the FIFOs containerd gave, and their exit resolves once all output was written.
 *
 * @example
 * ```ts
 * const vm = await ContainerVm.boot({ sandboxId: 'ctr-1', rootfs: '/bundle/rootfs', runBase, logger });
 * const { pid, exit } = await vm.run('p1', { cwd: '/', uid: 0, gid: 0, env: [], args: ['/bin/echo', 'hi'] }, io);
 * console.log(pid, (await exit).status);
 * await vm.stop();
 * ```
 */
export class ContainerVm {
  private readonly routes = new Map<string, Route>();
  private readonly subscription: Subscription;

  private constructor(
    readonly sandbox: Sandbox,
    private readonly agent: GuestAgentClient,
    readonly timings: BootTimings,
  ) {
    this.subscription = agent.procEvents$.subscribe({
      next: (e) => this.onProcEvent(e),
      // The channel closed (the VM stopped or died): every process still running ended with it.
      complete: () => this.endAll(),
    });
  }

  /** Creates and starts the sandbox, waits for the agent and mounts the rootfs. Stops it again on failure. */
  static async boot(options: ContainerVmOptions): Promise<ContainerVm> {
    const { sandbox, vmStartMs } = await ContainerVm.launch(options);
    return ContainerVm.ready(sandbox, options.sandboxId, vmStartMs, epochMs());
  }

  /**
   * Creates and starts the sandbox only (QEMU runs, the guest boots): the first half of
   * {@link ContainerVm.boot}, for a VM that is then detached and handed to another process.
   */
  static async launch(options: ContainerVmOptions): Promise<{ sandbox: Sandbox; vmStartMs: number }> {
    const g = guestArtifacts('cloud');
    const t0 = performance.now();
    const sb = await createSandbox(
      {
        id: options.sandboxId,
        hypervisor: {
          kernelPath: g.kernel,
          initrdPath: g.initrd,
          memorySize: options.memoryMiB ?? 256,
          sharedFS: 'virtio-fs',
          kernelParams: [{ key: 'console', value: 'hvc0' }],
        },
        devices: [
          { kind: 'fs', type: 'virtio-fs', id: 'rootfs0', tag: ROOTFS_TAG, sharedDir: options.rootfs },
        ],
      },
      { runDir: options.runBase, logger: options.logger, accelerator: options.accelerator },
    );
    try {
      await sb.start();
    } catch (cause) {
      await sb.stop().catch(() => undefined);
      throw new ShimVmError(
        `The sandbox VM ${options.sandboxId} did not start: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    return { sandbox: sb, vmStartMs: performance.now() - t0 };
  }

  /**
   * Takes over a VM {@link ContainerVm.launch}ed and detached by another process (the shim's
   * `start`), then waits for the agent and mounts the rootfs like {@link ContainerVm.boot}.
   * `runningAt` is when it was running (epoch ms), for the boot split.
   */
  static async attach(
    handoff: { runDir: string; sandboxId: string; vmStartMs: number; runningAt: number },
    logger: Logger,
  ): Promise<ContainerVm> {
    const sb = await attachSandbox(handoff.runDir, { logger });
    return ContainerVm.ready(sb, handoff.sandboxId, handoff.vmStartMs, handoff.runningAt);
  }

  /** The second half: agent ready, rootfs mounted. Stops the sandbox on failure. */
  private static async ready(
    sb: Sandbox,
    sandboxId: string,
    vmStartMs: number,
    runningAt: number,
  ): Promise<ContainerVm> {
    try {
      const agent = await sb.agent();
      await agent.waitReady({ timeout: BOOT_DEADLINE_MS });
      const t2 = epochMs();
      await agent.request('mount', ['virtiofs', ROOTFS_TAG, GUEST_ROOTFS], { timeout: 30_000 });
      return new ContainerVm(sb, agent, {
        vmStartMs,
        agentReadyMs: t2 - runningAt,
        rootfsMountMs: epochMs() - t2,
      });
    } catch (cause) {
      await sb.stop().catch(() => undefined);
      throw new ShimVmError(`The sandbox VM ${sandboxId} did not come up: ${(cause as Error).message}`, {
        cause,
      });
    }
  }

  /**
   * Starts a process under `key` (a short agent key). Resolves with its guest pid once it runs;
   * `exit` resolves after its last output was written.
   */
  async run(
    key: string,
    spec: Omit<GuestProcessSpec, 'root'>,
    io: ProcessIo,
  ): Promise<{ pid: number; exit: Promise<GuestExit> }> {
    const encoded = encodeGuestSpec({ ...spec, root: GUEST_ROOTFS });
    const out = openSink(io.stdout);
    const err = openSink(io.stderr);
    let settle: (e: GuestExit) => void = () => {};
    const exit = new Promise<GuestExit>((resolve) => {
      settle = resolve;
    });
    this.routes.set(key, { out, err, exit: settle });
    try {
      const { pid } = await this.agent.request('proc-start', [key, encoded], { timeout: 30_000 });
      return { pid, exit };
    } catch (cause) {
      this.routes.delete(key);
      await Promise.all([closeSink(out), closeSink(err)]);
      throw new ShimVmError(`The guest could not start ${spec.args[0]}: ${(cause as Error).message}`, {
        cause,
      });
    }
  }

  /** Delivers signal number `signal` to the running process `key` in the guest. */
  async kill(key: string, signal: number): Promise<void> {
    await this.agent.request('proc-kill', [key, signal], { timeout: 30_000 });
  }

  /** The container cgroup's counters in the guest (memory, CPU, pids, OOM events). */
  async stats(): Promise<GuestContainerStats> {
    return this.agent.request('ctr-stats', [], { timeout: 30_000 });
  }

  /** Stops the VM (and with it every process). Idempotent. */
  async stop(): Promise<void> {
    await this.sandbox.stop();
    this.endAll();
    this.subscription.unsubscribe();
  }

  private endAll(): void {
    const at = new Date();
    for (const [key, route] of this.routes) {
      this.routes.delete(key);
      void Promise.all([closeSink(route.out), closeSink(route.err)]).then(() =>
        route.exit({ pid: 0, status: VM_GONE_STATUS, at, oom: false }),
      );
    }
  }

  private onProcEvent(e: GuestProcEvent): void {
    const route = this.routes.get(e.key);
    if (!route) return;
    if (e.action === 'output') {
      (e.stream === 'stdout' ? route.out : route.err)?.write(Buffer.from(e.base64, 'base64'));
      return;
    }
    this.routes.delete(e.key);
    const at = new Date();
    void Promise.all([closeSink(route.out), closeSink(route.err)]).then(() =>
      route.exit({ pid: e.pid, status: e.status, at, oom: e.oom === true }),
    );
  }
}
