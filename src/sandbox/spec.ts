// What the sandbox layer launches: a plan (argv + paths), built per run dir.

import type { Logger } from 'pino';
import type { HasCapacityParams, RunOperationInput } from '../../machines/sandbox.types.js';
import type { ValidatedConfig } from '../config/types.js';
import type { DeviceEntry } from '../devices/record-types.js';
import type { QmpClient } from '../qmp/client.js';
import type { SandboxEvent } from './events.js';

/** What an operation provider gets besides the machine's input: the live sandbox. */
export interface OperationContext {
  readonly qmp: QmpClient;
  /** Fires when STOP pre-empts the operation. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly plan: LaunchPlan;
  /** Publishes an event on the sandbox's `events$` (e.g. migration progress). */
  readonly emit?: (e: SandboxEvent) => void;
}

/**
 * Implements the machine's modifying operations (hot plug, unplug, resize: src/hotplug plugs in
 * here). `run` is the `runOperation` actor; `hasCapacity` the guard checked before it starts.
 */
export interface OperationProvider {
  /** Runs one operation; resolves with its result (e.g. `HotplugResult`), rejects with a typed error. */
  run(input: RunOperationInput, ctx: OperationContext): Promise<unknown>;
  /** Is there room (bridge slots, memory slots, maxmem, maxcpus)? Pure, before any QMP. */
  hasCapacity?(params: HasCapacityParams): boolean;
  /** Whether a rejection of `run` undid every earlier step (told by the error's class): the `rolled-back` phase follows. */
  rolledBack?(error: unknown): boolean;
  /** The device record: cold- and hot-plugged devices with their placements (read-only). */
  devices?(): readonly DeviceEntry[];
  /**
   * True when `run` parses a `hotplug` op's device spec itself (with `deviceSpecSchema`, its own
   * typed error, before any QMP); otherwise the handle checks it first (`SandboxInputError`).
   */
  readonly checksDeviceSpecs?: boolean;
}

/** The paths of a planned sandbox the sandbox layer uses (all under `runDir`). */
export interface LaunchPaths {
  readonly runDir: string;
  /** Second QMP monitor (`-qmp unix:…,server=on,wait=off`) for reattach and outside tools. */
  readonly qmpSocket?: string;
  /** The guest console's socket (QEMU listens); read into `console.log`. */
  readonly consoleSocket?: string;
  /** The agent channel's socket (QEMU listens). */
  readonly agentSocket?: string;
  readonly virtiofsdSocket?: string;
  readonly pidFile?: string;
}

/** What a launch hook gets: the negotiated QMP client of the QEMU being started. */
export interface LaunchHookContext {
  readonly sandboxId: string;
  readonly qmp: QmpClient;
  /** Aborts when the start is abandoned (STOP, deadline). */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** Publishes an event on the sandbox's `events$` (e.g. migration progress). */
  readonly emit: (e: SandboxEvent) => void;
}

/** Launch steps beyond the argv (VM templates: the memory file's dir, the incoming migration). */
export interface LaunchHooks {
  /** After the run dir exists, before anything is spawned. */
  readonly prepare?: () => Promise<void>;
  /** After QMP is negotiated, before the `cont` that `-S` needs (e.g. `migrate-incoming`). */
  readonly beforeCont?: (ctx: LaunchHookContext) => Promise<void>;
  /** Turns a failure of `beforeCont` (already explained: QEMU's exit and output) into the start error's cause. */
  readonly explainFailure?: (err: unknown) => unknown;
  /** Part of the teardown after the processes are gone (before the sandbox reports `stopped`). */
  readonly teardown?: () => Promise<void>;
}

/** A QEMU launch plan (what `planQemu` returns satisfies it). */
export interface LaunchPlan {
  /** argv[0] the QEMU binary; QMP on `-chardev socket,id=…,fd=3`. */
  readonly argv: readonly string[];
  readonly paths: LaunchPaths;
  readonly virtiofsd?: { readonly argv: readonly string[] };
  /** Extra fds QEMU gets: `fd` its number in QEMU, `hostFd` the controller's open fd (default `fd`). */
  readonly fds?: readonly { readonly fd: number; readonly hostFd?: number; readonly deviceId: string }[];
  /** Extra launch steps (VM templates). */
  readonly hooks?: LaunchHooks;
}

/** Everything the sandbox layer needs to run one sandbox. */
export interface SandboxSpec {
  readonly id: string;
  /** The plan for a given run dir (pure; called once, before anything is created). */
  readonly plan: (runDir: string) => LaunchPlan;
  /** Dump guest memory into this directory on a guest panic (Kata 2.x hypervisor.go's GuestMemoryDumpPath/Paging). */
  readonly guestMemoryDump?: { readonly path: string; readonly paging: boolean } | null;
  /** Start deadline (default 30 s). */
  readonly startTimeoutMs?: number;
  /** The validated config the plan came from (`sb.config`, `sb.capabilities()`); set by `createSandbox`. */
  readonly config?: ValidatedConfig;
}
