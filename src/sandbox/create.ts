// createSandbox: validate the config, plan QEMU for the run dir, and hand a Sandbox back (nothing launched yet).
import { availableParallelism, totalmem } from 'node:os';
import { filter, take } from 'rxjs';
import { buildKernelParams } from '../config/kernel-params.js';
import type { SandboxConfig, ValidatedConfig } from '../config/types.js';
import { type ValidateOptions, validateConfig } from '../config/validate.js';
import { type Accelerator, probeAccelerator } from '../guest/kvm-probe.js';
import type { HotplugDeadlines } from '../hotplug/context.js';
import { agentGuestProbe } from '../hotplug/guest-probe.js';
import { createHotplugProvider, type HotplugProvider } from '../hotplug/provider.js';
import { checkNetns } from '../process/netns.js';
import { defaultRunBase } from '../process/run-dir.js';
import { type VsockCidLease, vsockCidLease } from '../process/vsock-cid.js';
import { planQemu } from '../qemu/plan.js';
import { rolledBackBy } from './actors.js';
import { persistSandboxState } from './persist.js';
import { openSandbox, type Sandbox, type SandboxOptions } from './sandbox.js';
import type { LaunchPlan, OperationProvider } from './spec.js';
import {
  checkTemplateBoot,
  cloneDeltas,
  queueCloneSetup,
  templateConfigOf,
  templateVmFiles,
  withTemplateLaunch,
} from './template/boot.js';
import { runSaveTemplate } from './template/save.js';
import type { Template } from './template/template-file.js';

/** Options of {@link createSandbox}: the handle's options plus config and host facts. */
export interface CreateSandboxOptions extends SandboxOptions {
  /** `kvm` or `tcg`; default: probed once per process (`$VMACTOR_ACCEL` overrides the probe). */
  readonly accelerator?: Accelerator;
  /** Passed to `validateConfig` (e.g. default kernel/initrd: the default guest). */
  readonly validate?: ValidateOptions;
  /** Start deadline in ms (default 30 000). */
  readonly startTimeoutMs?: number;
  /**
   * The guest runs vmactor's default-guest agent (`agent.channel.0`): hot-plug phase two then waits
   * for the guest to report the device. Default false: phase two ends with QEMU's own confirmation.
   */
  readonly guestAgent?: boolean;
  /** Hot-plug deadlines of this sandbox (`deviceDeletedMs`, `guestMs`, `commandMs`); operations may override per call. */
  readonly hotplugDeadlines?: Partial<HotplugDeadlines>;
  /**
   * Boot from this template (`sb.saveTemplate(dir)` / `readTemplate(dir)`): the config must plan
   * to the template's argv (a `TemplateMismatchError` otherwise); vCPUs/memory beyond the
   * template's are hot-added once it runs.
   */
  readonly template?: Template;
  /** With `bootToBeTemplate` and no `memoryPath`: the template dir (memory goes to `<dir>/memory`). */
  readonly templateDir?: string;
}

let probed: Promise<Accelerator> | undefined;

/** Host facts the plan needs, read once per process (`os.cpus()` parses /proc on every call). */
let host: { readonly hostCpus: number; readonly hostMemoryMiB: number } | undefined;
function hostFacts(): { readonly hostCpus: number; readonly hostMemoryMiB: number } {
  host ??= { hostCpus: availableParallelism(), hostMemoryMiB: Math.floor(totalmem() / (1024 * 1024)) };
  return host;
}

/** With a dump path, panics must reach QMP (pvpanic) and leave the VM paused for the dump. */
function withPanicDevice(plan: LaunchPlan, config: ValidatedConfig): LaunchPlan {
  if (!config.hypervisor.guestMemoryDumpPath) return plan;
  const argv = [...plan.argv];
  if (!argv.some((a) => a === 'pvpanic' || a.startsWith('pvpanic,'))) argv.push('-device', 'pvpanic');
  if (!argv.includes('-no-shutdown') && !argv.includes('-action')) argv.push('-action', 'panic=pause');
  return { ...plan, argv };
}

/**
 * Validates `config` (a typed `ConfigError` listing every problem, before anything exists), plans
 * the QEMU command line for the sandbox's run dir, and returns the {@link Sandbox} in `created`.
 * Nothing is launched or written until `start()`.
 *
 * Choices: QMP is QEMU's fd 3 (a socketpair), a second monitor listens on `<runDir>/qmp.sock`;
 * virtiofsd gets a listening socket we create; with `guestMemoryDumpPath` a `pvpanic` device and
 * `-action panic=pause` are added so the memory can be dumped before the stop. Fds in the config
 * (tap queues, vhost fds) are passed to QEMU at their planned numbers; with `netns` QEMU and
 * virtiofsd start in that network namespace (checked first: a `NetnsError`); vsock CIDs are
 * unique on the host (allocated under the run base, released at stop; a taken explicit
 * `contextId` is a `VsockCidInUseError`).
 *
 * @example
 * ```ts
 * import { createSandbox, guestArtifacts } from 'vmactor';
 * const { kernel, initrd } = guestArtifacts('cloud');
 * await using sb = await createSandbox(
 *   { id: 'demo', hypervisor: { kernelPath: kernel, initrdPath: initrd, memorySize: 512 } },
 *   { logger },
 * );
 * sb.events$.subscribe((e) => e.type === 'lifecycle' && console.log(e.from, '->', e.to));
 * await sb.start();
 * await sb.stop();
 * ```
 */
export async function createSandbox(
  config: SandboxConfig,
  options: CreateSandboxOptions = {},
): Promise<Sandbox> {
  if (options.netns !== undefined) await checkNetns(options.netns);
  const lease = vsockCidLease(options.runDir ?? defaultRunBase(), config.id);
  let sandbox: Sandbox;
  try {
    sandbox = await createWithCids(config, options, lease);
  } catch (err) {
    lease.release();
    throw err;
  }
  // Released at `stopped`, also when the sandbox never started (a STOP in `created`).
  void sandbox.stopped.then(() => lease.release());
  return sandbox;
}

/**
 * vsock devices without `contextId` get host-unique CIDs before validation; explicit ones are
 * claimed after it (a CID another sandbox holds is a `VsockCidInUseError`); with `useVSock` and
 * no vsock device the agent's vsock gets one too (planQemu's `vsockContextId`).
 */
function withVsockCids(config: SandboxConfig, lease: VsockCidLease): SandboxConfig {
  if (!config.devices?.some((d) => d.kind === 'vsock' && d.contextId === undefined)) return config;
  const devices = config.devices.map((d) =>
    d.kind === 'vsock' && d.contextId === undefined ? { ...d, contextId: lease.claim() } : d,
  );
  return { ...config, devices };
}

async function createWithCids(
  config: SandboxConfig,
  options: CreateSandboxOptions,
  lease: VsockCidLease,
): Promise<Sandbox> {
  const deltas = options.template ? cloneDeltas(config, options.template) : undefined;
  const validated = validateConfig(withVsockCids(templateConfigOf(config, options), lease), options.validate);
  for (const d of validated.devices)
    if (d.kind === 'vsock' && d.contextId !== undefined) lease.claim(d.contextId);
  const hv = validated.hypervisor;
  const agentCid =
    hv.useVSock && !validated.devices.some((d) => d.kind === 'vsock') ? lease.claim() : undefined;
  probed ??= options.accelerator === undefined ? probeAccelerator() : undefined;
  const accelerator = options.accelerator ?? (await (probed as Promise<Accelerator>));
  const kernelParams = buildKernelParams(hv).cmdline;
  const facts = await checkTemplateBoot(validated, options.template, { accelerator, ...hostFacts() });
  const tplFiles = templateVmFiles();
  // Hot plug needs the plan's device record, known once the plan exists (at start):
  // the provider is created with the plan; operations are refused by the machine before that.
  let hotplug: HotplugProvider | undefined;
  const operations: OperationProvider = options.operations ?? {
    run: (input, ctx) => {
      if (input.op.kind === 'save-template') return runSaveTemplate(input, input.op, ctx);
      if (!hotplug) throw new Error('hot-plug provider used before the sandbox was planned');
      return hotplug.run(input, ctx);
    },
    hasCapacity: (params) => hotplug?.hasCapacity(params) ?? false,
    rolledBack: (err) => rolledBackBy(hotplug, err),
    devices: () => (hotplug as OperationProvider | undefined)?.devices?.() ?? [],
    // src/hotplug parses each spec with deviceSpecSchema before any QMP (HotplugInputError).
    checksDeviceSpecs: true,
  };
  const sandbox: Sandbox = openSandbox(
    {
      id: validated.id,
      config: validated,
      plan: (runDir) => {
        const plan = planQemu(validated, {
          runDir,
          qmpFd: 3,
          accelerator,
          virtiofsdFd: 0,
          kernelParams,
          ...(agentCid === undefined ? {} : { vsockContextId: agentCid }),
          ...hostFacts(),
        });
        hotplug = createHotplugProvider({
          config: hv,
          // The plan's device record: cold-plugged devices with their placements, the bridges.
          record: plan.record,
          accelerator: plan.machine.accel,
          ...(options.hotplugDeadlines ? { deadlines: options.hotplugDeadlines } : {}),
          ...(options.guestAgent ? { guest: async () => agentGuestProbe(await sandbox.agent()) } : {}),
        });
        return withTemplateLaunch(
          withPanicDevice(plan, validated),
          validated,
          () => sandbox.logger,
          tplFiles,
        );
      },
      guestMemoryDump: hv.guestMemoryDumpPath
        ? { path: hv.guestMemoryDumpPath, paging: hv.guestMemoryDumpPaging }
        : null,
      ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs }),
    },
    { ...options, operations },
  );
  if (hv.virtioMem && !options.operations) queueVirtioMemSetup(sandbox);
  if (facts && hv.bootToBeTemplate) sandbox.attachments.template = { ...facts, files: tplFiles };
  if (deltas) queueCloneSetup(sandbox, deltas, options.guestAgent === true);
  // state.json in the run dir, rewritten on every change (attachSandbox reads it after a crash).
  const persister = persistSandboxState(sandbox, {
    config: validated,
    plan: sandbox.plan,
    accelerator,
    record: () => hotplug?.record.peek() ?? null,
  });
  void sandbox.stopped.then(() => persister.close());
  return sandbox;
}

/**
 * With `virtioMem`, Kata's qemu.go (`setupVirtioMem`) sets virtio-mem up right after the VM starts: queued as the first
 * operation when the sandbox first runs, so resizes (serialized behind it) find it in place.
 */
function queueVirtioMemSetup(sandbox: Sandbox): void {
  sandbox.events$
    .pipe(
      filter((e) => e.type === 'lifecycle' && e.to === 'running'),
      take(1),
    )
    .subscribe(() => {
      sandbox.operate({ kind: 'setup-virtio-mem' }, { id: 'setup-virtio-mem' }).catch((err: unknown) => {
        sandbox.logger.warn({ err }, 'virtio-mem setup failed; resize-memory will use pc-dimm');
      });
    });
}
