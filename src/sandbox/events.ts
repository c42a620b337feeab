// The one public event stream of a sandbox: lifecycle, operation phases, device changes, failed commands.

import type { SandboxOperationKind } from '../../machines/operation.types.js';
import type {
  LifecycleReason,
  OperationPhase,
  OperationRefusal,
  SandboxEmitted,
  SandboxOperation,
  SandboxPhase,
  StopDetails,
} from '../../machines/sandbox.types.js';
import type { Placement } from '../devices/record-types.js';
import {
  DuplicateOperationError,
  OperationAbortedError,
  OperationCapacityError,
  OperationNotActiveError,
  type SandboxOperationError,
} from './errors.js';
import type { StateWriteError } from './state-errors.js';

/** A change of the public phase (`created → starting → running ⇄ paused → stopping → stopped`). */
export interface SandboxLifecycleEvent {
  readonly type: 'lifecycle';
  readonly sandboxId: string;
  readonly from: SandboxPhase;
  readonly to: SandboxPhase;
  /** A stop reason for `stopping`/`stopped`; `requested`/`external` for running ⇄ paused. */
  readonly reason?: LifecycleReason;
  /** For `stopping`/`stopped`: the stop details, when there are any. */
  readonly error?: StopDetails;
  /** Epoch milliseconds. */
  readonly at: number;
}

/** One phase of a modifying operation: requested → applied → confirmed, or failed (→ rolled-back). */
export interface SandboxOperationEvent {
  readonly type: 'operation';
  readonly sandboxId: string;
  /** The operation id (`sb.operate(op, { id })`, else generated). */
  readonly id: string;
  /** The operation's kind (`hotplug`, `unplug`, `resize-memory`, …). */
  readonly kind: SandboxOperationKind;
  readonly op: SandboxOperation;
  readonly phase: OperationPhase;
  /** For `confirmed`: what the operation resolved with (e.g. a `HotplugResult`). */
  readonly result?: unknown;
  /** For `failed`: the typed error the operation's promise rejects with. */
  readonly error?: Error;
  readonly at: number;
}

/** A device was hot-plugged (`plugged`), removed (`unplugged`), or QEMU reported `DEVICE_DELETED` (`deleted`). */
export interface SandboxDeviceEvent {
  readonly type: 'device';
  readonly sandboxId: string;
  readonly change: 'plugged' | 'unplugged' | 'deleted';
  /** The device id (absent on a `DEVICE_DELETED` for a device without an id). */
  readonly deviceId?: string;
  /** `plugged`: where it went. */
  readonly placement?: Placement;
  /** `plugged`: the guest's name for it, when the guest confirmed. */
  readonly guestPath?: string;
  /** `deleted`: QEMU's QOM path of the device. */
  readonly path?: string;
  /** The operation that caused it (`plugged`/`unplugged`). */
  readonly operationId?: string;
  readonly at: number;
}

/** Our own pause/resume (`stop`/`cont`) failed; the phase did not change. */
export interface SandboxCommandFailedEvent {
  readonly type: 'command-failed';
  readonly sandboxId: string;
  readonly command: 'pause' | 'resume';
  readonly error: unknown;
  readonly at: number;
}

/** Writing state.json failed (disk full, read-only): the previous file is intact, the sandbox runs on. */
export interface SandboxStateWriteFailedEvent {
  readonly type: 'state-write-failed';
  readonly sandboxId: string;
  readonly error: StateWriteError;
  readonly at: number;
}

/** The sandbox was taken over by this process (`attachSandbox`): QEMU's real phase and what reconciling found. */
export interface SandboxReattachedEvent {
  readonly type: 'reattached';
  readonly sandboxId: string;
  readonly phase: 'running' | 'paused';
  readonly qemuPid: number;
  /** Differences between the persisted device record and the live QEMU (the live QEMU won). */
  readonly differences: readonly string[];
  /** What was done about an operation in flight when the old controller died. */
  readonly recovered: readonly string[];
  readonly at: number;
}

/**
 * Progress of a migration, from QEMU's `MIGRATION` / `MIGRATION_PASS` events: `outgoing` while a
 * template is saved (`setup → active → completed`, or `failed` / `cancelling → cancelled`),
 * `incoming` while a clone loads it. `failed` and `cancelled` are terminal.
 */
export interface SandboxMigrationEvent {
  readonly type: 'migration';
  readonly sandboxId: string;
  readonly direction: 'outgoing' | 'incoming';
  /** QEMU's `MigrationStatus` (`setup`, `active`, `completed`, `failed`, `cancelling`, `cancelled`, …). */
  readonly status: string;
  /** `MIGRATION_PASS`: RAM passes so far. */
  readonly pass?: number;
  /** `failed`: `query-migrate`'s `error-desc`. */
  readonly errorDesc?: string;
  readonly at: number;
}

/**
 * Everything a sandbox reports, one discriminated union on `type` (`sb.events$`): subscribe once,
 * narrow with `switch (e.type)`.
 */
export type SandboxEvent =
  | SandboxLifecycleEvent
  | SandboxOperationEvent
  | SandboxDeviceEvent
  | SandboxCommandFailedEvent
  | SandboxMigrationEvent
  | SandboxStateWriteFailedEvent
  | SandboxReattachedEvent;

/** The typed error of a refusal the machine made itself (plain data `{ code, message }`). */
export function refusalError(operationId: string, refusal: OperationRefusal): SandboxOperationError {
  switch (refusal.code) {
    case 'ERR_SANDBOX_NOT_ACTIVE':
      return new OperationNotActiveError(operationId, refusal.message);
    case 'ERR_NO_CAPACITY':
      return new OperationCapacityError(operationId, refusal.message);
    case 'ERR_OPERATION_ABORTED':
      return new OperationAbortedError(operationId, refusal.message);
    case 'ERR_DUPLICATE_ID':
      return new DuplicateOperationError(operationId, refusal.message);
  }
}

function isRefusal(x: unknown): x is OperationRefusal {
  if (typeof x !== 'object' || x === null || x instanceof Error) return false;
  const r = x as { code?: unknown; message?: unknown };
  return typeof r.code === 'string' && typeof r.message === 'string';
}

/** The error of a failed operation as an `Error`: the provider's own, or the refusal's class. */
export function operationError(operationId: string, error: unknown): Error {
  if (error instanceof Error) return error;
  if (isRefusal(error)) return refusalError(operationId, error);
  return new Error(`Operation \`${operationId}\` failed: ${String(error)}`, { cause: error });
}

function resultObject(result: unknown): Record<string, unknown> | undefined {
  return typeof result === 'object' && result !== null ? (result as Record<string, unknown>) : undefined;
}

/** Device events implied by a confirmed operation: a hot plug plugged its device, an unplug removed one. */
function deviceEventsOf(e: SandboxOperationEvent): SandboxDeviceEvent[] {
  if (e.phase !== 'confirmed') return [];
  const r = resultObject(e.result);
  const base = { type: 'device', sandboxId: e.sandboxId, operationId: e.id, at: e.at } as const;
  if (e.op.kind === 'unplug') {
    if (r?.removed === false) return [];
    return [{ ...base, change: 'unplugged', deviceId: e.op.id }];
  }
  if (e.op.kind === 'hotplug' || e.op.kind.startsWith('hotplug-')) {
    const id = typeof r?.id === 'string' ? r.id : e.op.kind === 'hotplug' ? e.op.device.id : undefined;
    if (id === undefined) return [];
    const placement = resultObject(r?.placement) as Placement | undefined;
    const guestPath = typeof r?.guestPath === 'string' ? r.guestPath : undefined;
    return [
      {
        ...base,
        change: 'plugged',
        deviceId: id,
        ...(placement === undefined ? {} : { placement }),
        ...(guestPath === undefined ? {} : { guestPath }),
      },
    ];
  }
  return [];
}

/** Maps one event the machine emitted onto the public events it stands for (in order). */
export function publicEventsOf(e: SandboxEmitted): SandboxEvent[] {
  switch (e.type) {
    case 'lifecycle':
      return [e];
    case 'operation': {
      const { error, result, ...rest } = e;
      const out: SandboxOperationEvent = {
        ...rest,
        kind: e.op.kind,
        ...(e.phase === 'failed' ? { error: operationError(e.id, error) } : {}),
        ...(result === undefined ? {} : { result }),
      };
      return [out, ...deviceEventsOf(out)];
    }
    case 'device-deleted':
      return [
        {
          type: 'device',
          sandboxId: e.sandboxId,
          change: 'deleted',
          ...(e.device === undefined ? {} : { deviceId: e.device }),
          path: e.path,
          at: e.at,
        },
      ];
    case 'command-failed':
      return [e];
  }
}
