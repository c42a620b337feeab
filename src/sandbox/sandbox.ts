// The public Sandbox handle: lifecycle (SandboxCore) plus queries and typed modifying operations.
import type { Logger } from 'pino';
import type { AnyActorRef } from 'xstate';
import type { SandboxOperation } from '../../machines/sandbox.types.js';
import type { DeviceEntry } from '../devices/record-types.js';
import type { DeviceSpec } from '../devices/spec.js';
import type { HotplugResult, ResizeMemoryResult, ResizeVcpusResult, UnplugResult } from '../hotplug/types.js';
import { rootLogger } from '../log.js';
import { assertSocketPath, assertUnder, defaultRunBase, runDirFor } from '../process/run-dir.js';
import { DEFAULT_STOP_POLICY, type StopPolicy } from '../process/stop-ladder.js';
import { capabilitiesOf, type SandboxCapabilities } from './capabilities.js';
import { detachSandbox, type SandboxHandle } from './detach.js';
import { GuestFailureError, SandboxStateError } from './errors.js';
import { checkOperation, type OperationResultOf } from './operations.js';
import { SandboxRuntime } from './runtime.js';
import { SandboxCore, type VcpuThreadIds } from './sandbox-core.js';
import type { OperationProvider, SandboxSpec } from './spec.js';
import { type SaveTemplateOptions, saveSandboxTemplate } from './template/save.js';
import type { Template } from './template/template-file.js';
import { withSpan } from './tracing.js';

export type { LifecycleEvent, SandboxActor, SandboxInit, StopResult, VcpuThreadIds } from './sandbox-core.js';
export { sandboxSystemId } from './sandbox-core.js';

/** Options of {@link createSandbox} and {@link openSandbox}. */
export interface SandboxOptions {
  /** Parent logger; the sandbox logs through `logger.child({ sandboxId })`. Default: {@link rootLogger}. */
  readonly logger?: Logger;
  /** Base dir of run dirs (the sandbox gets `<runDir>/<id>`, mode 0700). Default: {@link defaultRunBase}. */
  readonly runDir?: string;
  /** Aborting stops the sandbox (and fails a pending `start()`). */
  readonly signal?: AbortSignal;
  /** The stop ladder's deadlines. Default {@link DEFAULT_STOP_POLICY}. */
  readonly stopPolicy?: Partial<StopPolicy>;
  /** Deadline for QEMU's QMP greeting during start. Default 30 000 ms (libvirt's monitor wait: a loaded host can take seconds). */
  readonly qmpTimeoutMs?: number;
  /**
   * Deadline of every QMP command the handle sends (`check()`, `getThreadIDs()`, pause/resume):
   * a hung QEMU rejects the call with `QmpTimeoutError`. Default {@link DEFAULT_QMP_COMMAND_TIMEOUT_MS}.
   */
  readonly qmpCommandTimeoutMs?: number;
  /** Implements modifying operations (hotplug/unplug/resize); without it they fail. */
  readonly operations?: OperationProvider;
  /** Start QEMU and virtiofsd in this network namespace file (`/var/run/netns/NAME`), as Kata's `createSandbox(ctx, id, networkNS, …)`. */
  readonly netns?: string;
  /**
   * Make the sandbox's actor a child of this actor, in its actor system, registered under the
   * system id `sandbox:<id>` (the supervisor does this). The parent must handle
   * `xstate.error.actor.*` (else a sandbox actor's error errors it, as xstate v5 does) and
   * `sandbox.detached` (`SANDBOX_DETACHED` of machines/sandbox.types.ts: by `stopChild` of the event's `actor`: a child cannot be stopped directly).
   */
  readonly parentActor?: AnyActorRef;
}

/** Default of {@link SandboxOptions.qmpCommandTimeoutMs}. */
export const DEFAULT_QMP_COMMAND_TIMEOUT_MS = 10_000;

const FAILURE_STATUSES = new Set(['internal-error', 'guest-panicked']);

/**
 * One QEMU sandbox VM driven by an XState actor (created → starting → running ⇄ paused →
 * stopping → stopped). Every effect goes through QMP and the process layer; lifecycle changes,
 * operation phases and device changes are one `SandboxEvent` stream, `sb.events$`.
 *
 * @example
 * ```ts
 * await using sb = await createSandbox(config, { logger });
 * sb.events$.subscribe((e) => e.type === 'lifecycle' && console.log(`${e.from} -> ${e.to}`));
 * await sb.start();
 * const { id, placement } = await sb.hotplug({ kind: 'block', id: 'd1', file: '/var/d1.img' });
 * const { stopReason, exit } = await sb.stop(); // 'requested', { code: 0, signal: null }
 * ```
 */
export class Sandbox extends SandboxCore {
  private operationCounter = 0;

  /**
   * Checks the VM through QMP `query-status` (Kata's qemu.go `check`) within the sandbox's QMP
   * deadline: rejects with `QmpTimeoutError` when QEMU does not answer in time (e.g. stopped by
   * SIGSTOP), with {@link GuestFailureError} for `internal-error` and `guest-panicked`.
   *
   * @example
   * ```ts
   * await sb.check();
   * ```
   */
  check(): Promise<void> {
    return withSpan('sandbox.check', { 'vmactor.sandbox.id': this.id }, async () => {
      const status = await this.requireQmp().execute('query-status', undefined, this.deadline());
      if (FAILURE_STATUSES.has(status.status)) throw new GuestFailureError(status.status);
    });
  }

  /**
   * PIDs of the sandbox's live processes: QEMU first, then virtiofsd (Kata's qemu.go `getPids`).
   *
   * @example
   * ```ts
   * const [qemuPid, virtiofsdPid] = sb.getPids();
   * ```
   */
  getPids(): number[] {
    const out: number[] = [];
    const { qemu, virtiofsd } = this.runtime;
    if (qemu && qemu.exitInfo() === undefined) out.push(qemu.pid);
    if (virtiofsd && virtiofsd.exitInfo() === undefined) out.push(virtiofsd.pid);
    return out;
  }

  /**
   * vCPU index → host thread id from QMP `query-cpus-fast` (Kata's qemu.go `getThreadIDs`), within
   * the sandbox's QMP deadline.
   *
   * @example
   * ```ts
   * const { vcpus } = await sb.getThreadIDs(); // Map { 0 => 12345 }
   * ```
   */
  getThreadIDs(): Promise<VcpuThreadIds> {
    return withSpan('sandbox.getThreadIDs', { 'vmactor.sandbox.id': this.id }, async () => {
      const cpus = await this.requireQmp().execute('query-cpus-fast', undefined, this.deadline());
      const vcpus = new Map<number, number>();
      for (const c of cpus) if (c['thread-id'] > 0) vcpus.set(c['cpu-index'], c['thread-id']);
      return { vcpus };
    });
  }

  /**
   * What this sandbox's hypervisor supports (Kata's qemu.go `capabilities()`), from its config.
   *
   * @example
   * ```ts
   * if (sb.capabilities().blockDeviceHotplug) await sb.hotplug(disk);
   * ```
   */
  capabilities(): SandboxCapabilities {
    if (!this.config)
      throw new SandboxStateError('Expected a sandbox made by createSandbox (it has no config)', this.phase);
    return capabilitiesOf(this.config.hypervisor);
  }

  /**
   * The device record, read-only: every cold- and hot-plugged device with its placement.
   *
   * @example
   * ```ts
   * for (const d of sb.devices()) console.log(d.id, d.origin, d.placement);
   * ```
   */
  devices(): readonly DeviceEntry[] {
    return this.operations?.devices?.() ?? [];
  }

  /**
   * Hands the VM off (Kata's `toGrpc`): stops watching it without stopping it, marks state.json as
   * uncontrolled and returns a JSON handle another process passes to `attachSandbox(handle)`.
   * Afterwards this handle is inert: its calls reject with `SandboxStateError`.
   *
   * @example
   * ```ts
   * const handle = await sb.detach();          // { kind: 'vmactor.sandbox-handle', version: 1, runDir, ... }
   * const sb2 = await attachSandbox(handle);   // here or in another process
   * ```
   */
  detach(): Promise<SandboxHandle> {
    return detachSandbox(this);
  }

  /**
   * Hot-plugs a device given as the same `DeviceSpec` a config's `devices` take (Kata's qemu.go
   * `hotplugAddDevice`). The spec is validated first (`SandboxInputError`, nothing sent); resolves
   * once the device is confirmed (by the guest with `guestAgent`, else by QEMU).
   *
   * @example
   * ```ts
   * const { id, placement, guestPath } = await sb.hotplug({ kind: 'block', id: 'd1', file: '/var/d1.img' });
   * ```
   */
  hotplug(
    device: DeviceSpec,
    options: { guestDeadlineMs?: number; id?: string } = {},
  ): Promise<HotplugResult> {
    const { id, guestDeadlineMs } = options;
    return this.operate(
      { kind: 'hotplug', device, ...(guestDeadlineMs === undefined ? {} : { guestDeadlineMs }) },
      id === undefined ? {} : { id },
    );
  }

  /**
   * Unplugs a device (cold- or hot-plugged) by id: `device_del` → `DEVICE_DELETED` (deadline
   * `deviceDeletedMs`, default the sandbox's) → backend removal (Kata's `hotplugRemoveDevice`).
   *
   * @example
   * ```ts
   * const { removed } = await sb.unplug('d1', { deviceDeletedMs: 5_000 });
   * ```
   */
  unplug(deviceId: string, options: { deviceDeletedMs?: number; id?: string } = {}): Promise<UnplugResult> {
    const { id, deviceDeletedMs } = options;
    return this.operate(
      { kind: 'unplug', id: deviceId, ...(deviceDeletedMs === undefined ? {} : { deviceDeletedMs }) },
      id === undefined ? {} : { id },
    );
  }

  /**
   * Resizes guest memory to `mib` MiB total (Kata's qemu.go `resizeMemory`: pc-dimm or virtio-mem);
   * resolves with the memory before/after and the device added.
   *
   * @example
   * ```ts
   * const { currentMiB, device } = await sb.resizeMemory(1024);
   * ```
   */
  resizeMemory(
    mib: number,
    options: { memoryBlockSizeMiB?: number; probe?: boolean; id?: string } = {},
  ): Promise<ResizeMemoryResult> {
    const { id, ...rest } = options;
    return this.operate({ kind: 'resize-memory', mib, ...rest }, id === undefined ? {} : { id });
  }

  /**
   * Sets the number of vCPUs (Kata's qemu.go `resizeVCPUs`): resolves with `currentVCPUs` (before)
   * and `newVCPUs` (after); above max vCPUs it clamps, or refuses with `strict`.
   *
   * @example
   * ```ts
   * const { currentVCPUs, newVCPUs } = await sb.resizeVCPUs(2);
   * ```
   */
  resizeVCPUs(count: number, options: { strict?: boolean; id?: string } = {}): Promise<ResizeVcpusResult> {
    const { id, ...rest } = options;
    return this.operate({ kind: 'resize-vcpus', count, ...rest }, id === undefined ? {} : { id });
  }

  /**
   * Saves this VM as a template (Kata's factory `template`, qemu.go `saveSandbox`): pause, device
   * state to `<dir>/devices.state` over a `getfd` fd (`migrate fd:…`, no shell), completion from
   * `MIGRATION` events, `template.json` written atomically, then the template VM is stopped. The
   * sandbox must be created with `hypervisor.bootToBeTemplate: true`; `dir` defaults to the memory
   * file's dir. Clones: `createSandbox(config, { template })`.
   *
   * @example
   * ```ts
   * const tpl = await createSandbox({ id: 'tpl', hypervisor: { ...hv, bootToBeTemplate: true } });
   * await tpl.start();
   * const template = await tpl.saveTemplate('/dev/shm/vmactor-templates/tpl');
   * await using clone = await createSandbox({ id: 'c1', hypervisor: hv }, { template });
   * await clone.start();
   * ```
   */
  saveTemplate(dir?: string, options: SaveTemplateOptions = {}): Promise<Template> {
    return withSpan('sandbox.saveTemplate', { 'vmactor.sandbox.id': this.id }, () =>
      saveSandboxTemplate(this, dir, options),
    );
  }

  /**
   * Runs a modifying operation through the machine (queued, one at a time; STOP pre-empts): the
   * generic path under the typed methods. The op is checked first (`SandboxInputError`); resolves
   * with the kind's result once `confirmed`; rejects with the operation's typed error, or the
   * machine's refusal (`OperationCapacityError`, `OperationAbortedError`, …).
   *
   * @example
   * ```ts
   * const r = await sb.operate({ kind: 'resize-vcpus', count: 2 }); // ResizeVcpusResult
   * ```
   */
  operate<O extends SandboxOperation>(
    op: O,
    options: { id?: string } = {},
  ): Promise<OperationResultOf<O['kind']>> {
    this.operationCounter += 1;
    const id = options.id ?? `op-${this.operationCounter}`;
    const attrs = { 'vmactor.sandbox.id': this.id, 'vmactor.operation': op.kind };
    return withSpan('sandbox.operate', attrs, async () => {
      this.assertAttached();
      const checked = checkOperation(op, {
        providerChecksDevices: this.operations?.checksDeviceSpecs === true,
      });
      if (this.actor.getSnapshot().status !== 'active') {
        throw new SandboxStateError('Expected a live sandbox, got `stopped`', 'stopped');
      }
      const settled = new Promise<OperationResultOf<O['kind']>>((resolve, reject) => {
        const sub = this.subject.subscribe((e) => {
          if (e.type !== 'operation' || e.id !== id) return;
          if (e.phase === 'confirmed') {
            sub.unsubscribe();
            resolve(e.result as OperationResultOf<O['kind']>);
          } else if (e.phase === 'failed') {
            sub.unsubscribe();
            reject(e.error);
          }
        });
      });
      this.actor.send({ type: 'OPERATION', id, op: checked });
      return settled;
    });
  }
}

/**
 * Creates a sandbox from an explicit plan (no config validation): the low-level entry used by
 * {@link createSandbox} and by tests that launch a bare QEMU. Nothing is launched until `start()`.
 *
 * @example
 * ```ts
 * const sb = openSandbox({ id: 'sb1', plan: (runDir) => ({ argv: [qemu, '-S', ...], paths: { runDir } }) });
 * await sb.start();
 * ```
 */
export function openSandbox(spec: SandboxSpec, options: SandboxOptions = {}): Sandbox {
  const base = options.runDir ?? defaultRunBase();
  const runDir = runDirFor(base, spec.id);
  const plan = spec.plan(runDir);
  for (const [key, value] of Object.entries(plan.paths)) {
    if (typeof value !== 'string' || key === 'runDir') continue;
    assertUnder(runDir, value);
    if (key.endsWith('Socket')) assertSocketPath(value);
  }
  const logger = (options.logger ?? rootLogger()).child({ sandboxId: spec.id });
  const runtime = new SandboxRuntime({
    sandboxId: spec.id,
    runDir,
    plan,
    logger,
    stopPolicy: { ...DEFAULT_STOP_POLICY, ...options.stopPolicy },
    qmpTimeoutMs: options.qmpTimeoutMs ?? 30_000,
    ...(options.netns === undefined ? {} : { netns: options.netns }),
  });
  return new Sandbox({
    id: spec.id,
    runtime,
    spec,
    logger,
    signal: options.signal,
    operations: options.operations,
    qmpCommandTimeoutMs: options.qmpCommandTimeoutMs ?? DEFAULT_QMP_COMMAND_TIMEOUT_MS,
    parentActor: options.parentActor,
  });
}
