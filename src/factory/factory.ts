// createVmFactory: Kata's factory/ (template or direct base, a cache of ready VMs) as an actor over the factory machine.
import { defer, merge, type Observable, of, Subject } from 'rxjs';
import { type Actor, createActor, fromCallback, fromPromise } from 'xstate';
import { type FactoryMachine, factoryMachine } from '../../machines/factory.machine.js';
import type { FactoryEvent, PooledVm, StartVmInput } from '../../machines/factory.types.js';
import type { SandboxConfig } from '../config/types.js';
import { rootLogger } from '../log.js';
import { type CreateSandboxOptions, createSandbox } from '../sandbox/create.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import { cloneSetupDone } from '../sandbox/template/boot.js';
import type { Template } from '../sandbox/template/template-file.js';
import { FactoryClosedError, FactoryConfigError } from './errors.js';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Options of {@link createVmFactory}. */
export interface VmFactoryOptions {
  /** `template`: VMs are clones of `template` (Kata's template factory); `direct`: cold boots (Kata's direct factory). */
  readonly base: 'template' | 'direct';
  /** The template to clone (`base: 'template'`). */
  readonly template?: Template;
  /** The VMs' config; its `id` prefixes the pooled VMs' ids (`<id>-vm-0`, …). */
  readonly config: SandboxConfig;
  /** VMs kept started and ready (0: none, every get() starts one). */
  readonly cacheSize: number;
  /** VMs started at once while refilling. Default 1. */
  readonly concurrency?: number;
  /** Passed to every createSandbox (runDir, logger, accelerator, guestAgent, …); `template` is the factory's. */
  readonly sandbox?: Omit<CreateSandboxOptions, 'template'>;
}

/** What `factory.get()` asks for beyond the base config (Kata's `GetVM` hot-adds the difference). */
export interface VmRequest {
  /** A label for the caller's logs (a pooled VM keeps the id it was started with). */
  readonly id?: string;
  readonly vcpus?: number;
  /** MiB. */
  readonly memory?: number;
}

/** A VM factory (Kata's `factory.FactoryBase` + cache). */
export interface VmFactory {
  /** A started VM: from the cache at once, or started now when it is empty; vCPUs/memory beyond the base are hot-added. */
  get(request?: VmRequest): Promise<Sandbox>;
  /** The VMs the factory holds (Kata's `GetVMStatus`). */
  status(): readonly PooledVm[];
  /** Resolves once the cache holds `cacheSize` ready VMs (or the factory closed, or refilling gave up after repeated failures). */
  filled(): Promise<void>;
  /** Stops every VM the factory holds or is starting; `get()` then rejects. Idempotent. */
  close(): Promise<void>;
  /** The factory's XState actor (for inspection: `inspect(factory)`). */
  readonly actor: Actor<FactoryMachine>;
  /** Every VM this factory creates: the live ones at subscription, then each new one as it is created (for inspection). */
  readonly vms$: Observable<Sandbox>;
}

/**
 * Creates a VM factory that keeps `cacheSize` VMs started and ready as actors (Kata's factory
 * `cache`), refilled in the background with bounded concurrency, each a clone of `template`
 * (`base: 'template'`) or a cold boot (`direct`). With `sandbox.guestAgent`, a VM counts as ready
 * once its agent answers, and a clone gets its RNG reseeded and clock synced before it enters the
 * cache (Kata's `GetVM` does it at hand-out; doing it at fill time keeps `get()` from a warm cache
 * free of guest round trips, and every clone still gets its own entropy).
 *
 * @example
 * ```ts
 * const factory = createVmFactory({ base: 'template', template, config, cacheSize: 2 });
 * const sb = await factory.get({ id: 'job-1', vcpus: 2 });
 * await sb.stop();
 * await factory.close();
 * ```
 */
export function createVmFactory(options: VmFactoryOptions): VmFactory {
  const { base, template, config, cacheSize } = options;
  if (base !== 'template' && base !== 'direct')
    throw new FactoryConfigError(
      `Expected \`base\` to be \`template\` or \`direct\`, got \`${String(base)}\``,
    );
  if (base === 'template' && !template)
    throw new FactoryConfigError('Expected `template` with `base: "template"`, got nothing');
  if (!Number.isSafeInteger(cacheSize) || cacheSize < 0)
    throw new FactoryConfigError(`Expected \`cacheSize\` to be a non-negative integer, got \`${cacheSize}\``);
  if (typeof config?.id !== 'string' || !ID_RE.test(config.id))
    throw new FactoryConfigError(`Expected \`config.id\` to match ${ID_RE}, got \`${String(config?.id)}\``);
  const sbOptions = options.sandbox ?? {};
  const logger = (sbOptions.logger ?? rootLogger()).child({ factory: config.id });
  const guestAgent = sbOptions.guestAgent === true;
  const held = new Map<string, Sandbox>();
  const inFlight = new Set<Promise<unknown>>();
  let direct = 0;
  // Every VM created and not yet stopped, cached or handed out (vms$ for the inspector).
  const live = new Set<Sandbox>();
  const created = new Subject<Sandbox>();

  /** createSandbox → start → (agent ready): one VM of the base. */
  const startOne = async (id: string): Promise<Sandbox> => {
    const sb = await createSandbox(
      { ...config, id },
      { ...sbOptions, ...(base === 'template' && template ? { template } : {}) },
    );
    live.add(sb);
    void sb.stopped.then(() => live.delete(sb));
    created.next(sb);
    try {
      await sb.start();
      if (guestAgent) await (await sb.agent()).waitReady({ timeout: 60_000 });
      // A clone's RNG reseed and clock sync (queued by createSandbox) end before it can be handed out.
      await cloneSetupDone(sb);
    } catch (err) {
      await sb.stop();
      throw err;
    }
    return sb;
  };

  const pooled = (key: string, sb: Sandbox): PooledVm => ({
    key,
    pid: sb.getPids()[0] ?? 0,
    vcpus: sb.config?.hypervisor.numVCPUs ?? 0,
    memoryMiB: sb.config?.hypervisor.memorySize ?? 0,
  });

  const machine = factoryMachine.provide({
    actors: {
      startVm: fromCallback<FactoryEvent, StartVmInput>(({ input, sendBack }) => {
        const id = `${config.id}-${input.key}`;
        const p = startOne(id).then(
          (sb) => {
            held.set(input.key, sb);
            void sb.stopped.then(() => {
              if (held.get(input.key) === sb) {
                held.delete(input.key);
                actor.send({ type: 'VM_EXITED', key: input.key });
              }
            });
            sendBack({ type: 'VM_READY', vm: pooled(input.key, sb) });
          },
          (error: unknown) => {
            logger.warn({ err: error, vm: id }, 'factory: a VM failed to start');
            sendBack({ type: 'VM_FAILED', key: input.key, error });
          },
        );
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }),
      drain: fromPromise<void, void>(async () => {
        // In-flight starts first (their VMs land in `held`), then everything held.
        await Promise.allSettled([...inFlight]);
        await Promise.allSettled([...held.values()].map((sb) => sb.stop()));
        held.clear();
      }),
    },
  });
  const actor = createActor(machine, {
    input: { cacheSize, ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }) },
  });
  actor.start();
  let requests = 0;
  let closing: Promise<void> | undefined;

  /** Kata's GetVM: hot-add what the request asks beyond the VM's. */
  const finish = async (sb: Sandbox, req: VmRequest): Promise<Sandbox> => {
    try {
      const hv = sb.config?.hypervisor;
      if (req.vcpus !== undefined && hv && req.vcpus > hv.numVCPUs) await sb.resizeVCPUs(req.vcpus);
      if (req.memory !== undefined && hv && req.memory > hv.memorySize) await sb.resizeMemory(req.memory);
    } catch (err) {
      await sb.stop();
      throw err;
    }
    logger.debug({ vm: sb.id, request: req.id }, 'factory: VM handed out');
    return sb;
  };

  return {
    actor,
    vms$: defer(() => merge(of(...live), created)),
    get(request: VmRequest = {}): Promise<Sandbox> {
      if (closing) return Promise.reject(new FactoryClosedError());
      requests += 1;
      const requestId = `get-${requests}`;
      let outcome: { vm?: PooledVm; miss?: true } | undefined;
      const sub = actor.on('*', (e) => {
        if (e.type === 'handed-out' && e.requestId === requestId) outcome = { vm: e.vm };
        else if (e.type === 'miss' && e.requestId === requestId) outcome = { miss: true };
      });
      actor.send({ type: 'GET', requestId });
      sub.unsubscribe();
      const vm = outcome?.vm;
      if (vm) {
        const sb = held.get(vm.key);
        held.delete(vm.key);
        if (sb) return finish(sb, request);
      }
      direct += 1;
      return startOne(`${config.id}-get-${direct}`).then((sb) => finish(sb, request));
    },
    status(): readonly PooledVm[] {
      return actor.getSnapshot().context.cached;
    },
    filled(): Promise<void> {
      return new Promise<void>((resolve) => {
        const done = (): boolean => {
          const snap = actor.getSnapshot();
          const c = snap.context;
          return (
            snap.status !== 'active' ||
            !snap.matches('running') ||
            c.cached.length >= c.cacheSize ||
            (c.failures >= c.maxFailures && c.starting === 0)
          );
        };
        if (done()) return resolve();
        const sub = actor.subscribe({
          next: () => {
            if (!done()) return;
            sub.unsubscribe();
            resolve();
          },
          complete: () => resolve(),
        });
      });
    },
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        actor.subscribe({ complete: () => resolve() });
        if (actor.getSnapshot().status !== 'active') resolve();
        actor.send({ type: 'CLOSE' });
      });
      return closing;
    },
  };
}
