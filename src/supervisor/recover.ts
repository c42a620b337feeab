// recoverSandboxes: at boot, reattach every live sandbox under a run base and clean the dead ones, one outcome each.
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isSandboxId } from '../devices/rules.js';
import { type AttachOptions, attachSandbox, type ReattachReport, reattachReport } from '../sandbox/attach.js';
import type { Sandbox, StopResult } from '../sandbox/sandbox.js';
import { SandboxGoneError, SandboxKilledOnAttachError } from '../sandbox/state-errors.js';
import type { RecoverStep } from './supervisor.js';

/** What happened to one run dir. */
export type RecoveryOutcome =
  | {
      readonly id: string;
      readonly runDir: string;
      readonly outcome: 'reattached';
      readonly sandbox: Sandbox;
      /** What reconciling found (differences, the interrupted operation recovered). */
      readonly report: ReattachReport;
    }
  | {
      readonly id: string;
      readonly runDir: string;
      /** QEMU had ended while detached (guest panic, guest shutdown): stopped with that reason here, cleaned. */
      readonly outcome: 'stopped';
      readonly result: StopResult;
    }
  | {
      readonly id: string;
      readonly runDir: string;
      /** QEMU was gone (`stopped{crashed}`); the run dir was cleaned. */
      readonly outcome: 'crashed';
      readonly stderrTail: string;
    }
  | {
      readonly id: string;
      readonly runDir: string;
      /** Killed and cleaned: died while starting, or could not be reconciled. */
      readonly outcome: 'killed';
      readonly why: 'starting' | 'stopping' | 'unreconcilable';
    }
  | {
      readonly id: string;
      readonly runDir: string;
      /** Left as it was (a live controller holds it, the monitor is busy, a newer state file, ...). */
      readonly outcome: 'failed';
      readonly error: Error;
    };

/** Options of {@link recoverSandboxes}: those of `attachSandbox`, plus how many attach at once. */
export interface RecoverOptions extends AttachOptions {
  /** Run dirs attached concurrently (default 8). */
  readonly concurrency?: number;
}

/**
 * Reattaches every sandbox under `runBase` (each subdirectory named like a sandbox id), cleans the
 * dead ones and reports one outcome per run dir — the service calls it at boot. Files that are not
 * run dirs (the vsock CID leases, ...) are left alone; an error in one run dir never stops the rest.
 *
 * @example
 * ```ts
 * for (const r of await recoverSandboxes('/run/vmactor')) console.log(r.id, r.outcome);
 * ```
 */
export async function recoverSandboxes(
  runBase: string,
  options: RecoverOptions = {},
): Promise<RecoveryOutcome[]> {
  const base = resolve(runBase);
  let entries: string[];
  try {
    entries = (await readdir(base, { withFileTypes: true }))
      .filter((e) => e.isDirectory() && isSandboxId(e.name))
      .map((e) => e.name)
      .sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: RecoveryOutcome[] = new Array(entries.length);
  let next = 0;
  const worker = async () => {
    while (next < entries.length) {
      const i = next++;
      const id = entries[i] as string;
      out[i] = await recoverOne(id, join(base, id), options);
    }
  };
  const n = Math.max(1, Math.min(options.concurrency ?? 8, entries.length));
  await Promise.all(Array.from({ length: n }, worker));
  return out;
}

async function recoverOne(id: string, runDir: string, options: AttachOptions): Promise<RecoveryOutcome> {
  try {
    const sandbox = await attachSandbox(runDir, options);
    if (sandbox.phase !== 'running' && sandbox.phase !== 'paused') {
      return { id, runDir, outcome: 'stopped', result: await sandbox.stopped };
    }
    const report = reattachReport(sandbox) ?? { differences: [], recovered: [] };
    return { id, runDir, outcome: 'reattached', sandbox, report };
  } catch (err) {
    if (err instanceof SandboxGoneError)
      return { id, runDir, outcome: 'crashed', stderrTail: err.stderrTail };
    if (err instanceof SandboxKilledOnAttachError) return { id, runDir, outcome: 'killed', why: err.why };
    return { id, runDir, outcome: 'failed', error: err instanceof Error ? err : new Error(String(err)) };
  }
}

/**
 * The service's boot step (a {@link RecoverStep}): every live sandbox under the run base is
 * reattached and adopted by the supervisor, the dead ones are cleaned, and each outcome is logged
 * — so a restarted daemon holds the VMs its predecessor left running (libvirt's reconnect).
 *
 * @example
 * ```ts
 * const supervisor = await openSupervisor({ runBase: '/run/vmactor', recover: reattachRunBase });
 * ```
 */
export const reattachRunBase: RecoverStep = async (host) => {
  for (const r of await recoverSandboxes(host.runBase, {
    logger: host.logger,
    parentActor: host.parentActor,
  })) {
    host.logger.info({ sandboxId: r.id, outcome: r.outcome }, 'recovered at boot');
    if (r.outcome === 'reattached') host.adopt(r.sandbox);
  }
};
