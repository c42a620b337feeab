// What the sandbox layer launches: a plan (argv + paths), built per run dir.

import type { Logger } from 'pino';
import type { HasCapacityParams, RunOperationInput } from '../../machines/sandbox.types.js';
import type { QmpClient } from '../qmp/client.js';

/** What an operation provider gets besides the machine's input: the live sandbox. */
export interface OperationContext {
  readonly qmp: QmpClient;
  /** Fires when STOP pre-empts the operation. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly plan: LaunchPlan;
}

/**
 * Implements the machine's modifying operations (hotplug, unplug, resize: issue 5's layer plugs in
 * here). `run` is the `runOperation` actor; `hasCapacity` the guard checked before it starts.
 */
export interface OperationProvider {
  run(input: RunOperationInput, ctx: OperationContext): Promise<unknown>;
  hasCapacity?(params: HasCapacityParams): boolean;
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

/** A QEMU launch plan (what `planQemu` returns satisfies it). */
export interface LaunchPlan {
  /** argv[0] the QEMU binary; QMP on `-chardev socket,id=…,fd=3`. */
  readonly argv: readonly string[];
  readonly paths: LaunchPaths;
  readonly virtiofsd?: { readonly argv: readonly string[] };
  /** Extra fds QEMU gets: `fd` its number in QEMU, `hostFd` the controller's open fd (default `fd`). */
  readonly fds?: readonly { readonly fd: number; readonly hostFd?: number; readonly deviceId: string }[];
}

/** Everything the sandbox layer needs to run one sandbox. */
export interface SandboxSpec {
  readonly id: string;
  /** The plan for a given run dir (pure; called once, before anything is created). */
  readonly plan: (runDir: string) => LaunchPlan;
  /** Dump guest memory into this directory on a guest panic (seed 003's GuestMemoryDumpPath/Paging). */
  readonly guestMemoryDump?: { readonly path: string; readonly paging: boolean } | null;
  /** Start deadline (default 30 s). */
  readonly startTimeoutMs?: number;
}
