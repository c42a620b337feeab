// The vmactor inspection protocol: what the inspector page receives (XState's inspection events, normalized and JSON-safe).
//
// XState's own events (`@xstate.snapshot`, `@xstate.event`, `@xstate.actor`) are renamed in its next
// major; the page and any other consumer see only these messages. `seq` increases by one per message
// of one inspector, so a reconnecting client resumes with `Last-Event-ID`.

/** Version of the message shapes below (sent in `hello`). */
export const INSPECT_PROTOCOL_VERSION = 1;

/** Which machine an inspected actor runs (the chart the page draws for it). */
export type InspectMachine = 'sandbox' | 'factory' | 'supervisor';

/** JSON data, as {@link sanitize} leaves it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Base {
  readonly seq: number;
  /** Epoch milliseconds. */
  readonly time: number;
  /** The inspected actor: a sandbox id, `factory:<id>` or `supervisor`. */
  readonly actorId: string;
  readonly machine: InspectMachine;
}

/** An actor appeared (it is inspected from now on). */
export interface InspectActorMessage extends Base {
  readonly type: 'actor';
}

/** The actor's state after a step: its state value, the active state paths, sanitized context. */
export interface InspectSnapshotMessage extends Base {
  readonly type: 'snapshot';
  /** XState's state value (`{ active: { run: 'running', operation: 'idle' } }`). */
  readonly value: Json;
  /** Every active state path, parents first (`active`, `active.run`, `active.run.running`, …). */
  readonly states: readonly string[];
  /** `active`, `done`, `error` or `stopped` (XState's snapshot status). */
  readonly status: string;
  /** A short name of where it is: a sandbox's public phase, else the top-level state. */
  readonly phase: string;
  /** The machine context without handles, long strings cut (see {@link sanitize}). */
  readonly context: Json;
}

/** Where a timeline entry comes from. */
export type InspectEventKind =
  | 'lifecycle'
  | 'operation'
  | 'device'
  | 'migration'
  | 'qmp'
  | 'process'
  | 'command'
  | 'machine'
  | 'sandbox';

/** One entry of the timeline: a public sandbox event or an event the machine received. */
export interface InspectEventMessage extends Base {
  readonly type: 'event';
  readonly kind: InspectEventKind;
  /** One line for people (`running → paused`, `hotplug d1 applied`, `qmp.DEVICE_DELETED`). */
  readonly summary: string;
  /** The event itself, sanitized. */
  readonly detail: Json;
}

/** The sandbox's device record (after every operation and device change). */
export interface InspectDevicesMessage extends Base {
  readonly type: 'devices';
  readonly devices: Json;
}

/** Every message the inspector sends. */
export type InspectMessage =
  | InspectActorMessage
  | InspectSnapshotMessage
  | InspectEventMessage
  | InspectDevicesMessage;

/** A message before the recorder numbers it. */
export type UnnumberedMessage = InspectMessage extends infer M
  ? M extends InspectMessage
    ? Omit<M, 'seq'>
    : never
  : never;

/**
 * Active state paths of a state value, parents first, in definition order.
 *
 * @example
 * ```ts
 * activePaths({ active: { run: 'running', operation: 'idle' } });
 * // ['active', 'active.run', 'active.run.running', 'active.operation', 'active.operation.idle']
 * ```
 */
export function activePaths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix === '' ? value : `${prefix}.${value}`];
  if (typeof value !== 'object' || value === null) return [];
  const out: string[] = [];
  for (const [key, child] of Object.entries(value)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    out.push(path, ...activePaths(child, path));
  }
  return out;
}
