// Hooks actors into the recorder: XState's inspection API on each actor's system, and a sandbox's public `events$`.
import { filter, type Subscription } from 'rxjs';
import type { AnyActorRef, InspectionEvent } from 'xstate';
import type { VmFactory } from '../factory/factory.js';
import type { SandboxEvent } from '../sandbox/events.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import type { InspectEventKind, InspectMachine } from './protocol.js';
import type { InspectRecorder } from './recorder.js';

/** Something to stop watching. */
export type Detach = () => void;

/** Timeline kind of an event the machine received. */
function machineEventKind(type: string): InspectEventKind {
  if (type.startsWith('qmp.')) return 'qmp';
  if (type.startsWith('process.')) return 'process';
  if (type.startsWith('xstate.') || type.startsWith('operation.')) return 'machine';
  return 'command';
}

/** `qemu exited (code 0)` for each process a shutdown reaped (`xstate.done.actor.shutdown`'s output). */
function reaped(output: unknown): string {
  if (typeof output !== 'object' || output === null) return '';
  const parts: string[] = [];
  for (const which of ['qemu', 'virtiofsd'] as const) {
    const exit = (output as Record<string, { code?: unknown; signal?: unknown } | undefined>)[which];
    if (exit) parts.push(`${which} exited (${exitText(exit)})`);
  }
  return parts.length === 0 ? '' : `: ${parts.join(', ')}`;
}

function exitText(e: { readonly code?: unknown; readonly signal?: unknown } & object): string {
  return e.signal != null ? `signal ${String(e.signal)}` : `code ${String(e.code)}`;
}

/** One line for a machine event: its type plus what names it (device, process and its exit, operation id). */
function machineEventSummary(e: { type: string } & Record<string, unknown>): string {
  if (e.type === 'process.exited') return `process.exited ${String(e.which)} (${exitText(e)})`;
  if (e.type.startsWith('xstate.done.actor.')) return `${e.type}${reaped(e.output)}`;
  const device = typeof e.device === 'string' ? ` ${e.device}` : '';
  const id = typeof e.id === 'string' && e.type === 'OPERATION' ? ` ${e.id}` : '';
  const reason = e.type === 'qmp.SHUTDOWN' && typeof e.reason === 'string' ? ` (${e.reason})` : '';
  return `${e.type}${device}${id}${reason}`;
}

/** One line for a public sandbox event. */
export function sandboxEventSummary(e: SandboxEvent): string {
  switch (e.type) {
    case 'lifecycle':
      return `${e.from} → ${e.to}${e.reason ? ` (${e.reason})` : ''}`;
    case 'operation': {
      const dev =
        (e.op as { device?: { id?: unknown }; id?: unknown }).device?.id ?? (e.op as { id?: unknown }).id;
      return `${e.kind}${typeof dev === 'string' ? ` ${dev}` : ''} ${e.phase}`;
    }
    case 'device':
      return `device ${e.change} ${e.deviceId ?? e.path ?? ''}`.trimEnd();
    case 'migration':
      return `migration ${e.direction} ${e.status}`;
    case 'command-failed':
      return `${e.command} failed`;
    default:
      return e.type;
  }
}

/** Timeline kind of a public sandbox event. */
function sandboxEventKind(e: SandboxEvent): InspectEventKind {
  if (e.type === 'lifecycle' || e.type === 'operation' || e.type === 'device' || e.type === 'migration')
    return e.type;
  if (e.type === 'command-failed') return 'command';
  return 'sandbox';
}

function describeMachineEvent(e: { type: string } & Record<string, unknown>) {
  return { kind: machineEventKind(e.type), summary: machineEventSummary(e) };
}

function describeSandboxEvent(e: SandboxEvent) {
  return { kind: sandboxEventKind(e), summary: sandboxEventSummary(e) };
}

/**
 * Watches one actor through `actor.system.inspect(...)`: its snapshots (one per changed step) and
 * the events it receives; children's own steps are left out. The observer only hands references
 * to the recorder (converted in its next batch).
 */
export function watchActor(
  recorder: InspectRecorder,
  actorId: string,
  machine: InspectMachine,
  actor: AnyActorRef,
): Detach {
  let last: unknown = actor.getSnapshot();
  recorder.enqueue(actorId, machine, { t: 'actor' });
  recorder.enqueue(actorId, machine, { t: 'snapshot', snapshot: last as never });
  const observer = (ev: InspectionEvent): void => {
    if (ev.actorRef !== actor) return;
    if (ev.type === '@xstate.snapshot') {
      if (ev.snapshot === last) return;
      last = ev.snapshot;
      recorder.enqueue(actorId, machine, { t: 'snapshot', snapshot: ev.snapshot as never });
    } else if (ev.type === '@xstate.event') {
      const e = ev.event as { type: string } & Record<string, unknown>;
      recorder.enqueue(actorId, machine, {
        t: 'event',
        event: e,
        describe: describeMachineEvent,
      });
    }
  };
  const sub = actor.system.inspect(observer);
  return () => sub.unsubscribe();
}

/**
 * Watches a sandbox: its actor (state chart, machine events: QMP events, process exits, commands),
 * its public `events$` (lifecycle, operation phases, devices, migration) and its device record
 * (read again once started, and after every settled operation or device event).
 */
export function watchSandbox(recorder: InspectRecorder, sb: Sandbox): Detach {
  const id = sb.id;
  const detachActor = watchActor(recorder, id, 'sandbox', sb.actor);
  const devices = () => recorder.enqueue(id, 'sandbox', { t: 'devices', devices: sb.devices() });
  devices();
  const sub = sb.events$.subscribe((e) => {
    recorder.enqueue(id, 'sandbox', {
      t: 'event',
      event: e,
      describe: describeSandboxEvent,
    });
    // The record is complete once started (a clone's devices), then changes with devices and operations.
    if (
      e.type === 'device' ||
      (e.type === 'lifecycle' && e.from === 'starting') ||
      (e.type === 'operation' && (e.phase === 'confirmed' || e.phase === 'failed'))
    )
      devices();
  });
  return () => {
    sub.unsubscribe();
    detachActor();
  };
}

/** Watches sandboxes as they come, each once; returns the detach of all. */
function sandboxSet(recorder: InspectRecorder): { add: (sb: Sandbox) => void; detach: Detach } {
  const watched = new Map<Sandbox, Detach>();
  return {
    add: (sb) => {
      if (!watched.has(sb)) watched.set(sb, watchSandbox(recorder, sb));
    },
    detach: () => {
      for (const d of watched.values()) d();
      watched.clear();
    },
  };
}

/** Watches a factory's actor and every VM it creates (cached or handed out). */
export function watchFactory(recorder: InspectRecorder, factory: VmFactory, name: string): Detach {
  const detachActor = watchActor(recorder, `factory:${name}`, 'factory', factory.actor);
  const set = sandboxSet(recorder);
  const sub = factory.vms$.subscribe((sb) => set.add(sb));
  return () => {
    sub.unsubscribe();
    set.detach();
    detachActor();
  };
}

/** Watches a supervisor's actor and every sandbox it holds or admits later. */
export function watchSupervisor(recorder: InspectRecorder, supervisor: Supervisor): Detach {
  const detachActor = watchActor(recorder, 'supervisor', 'supervisor', supervisor.actorRef);
  const set = sandboxSet(recorder);
  const sub: Subscription = supervisor.events.events$
    .pipe(filter((item) => item.event.type === 'supervisor'))
    .subscribe((item) => {
      const change = item.event.change;
      if (change !== 'added' && change !== 'recovered') return;
      try {
        set.add(supervisor.get(item.event.sandboxId));
      } catch {
        // Removed again before we looked: nothing to watch.
      }
    });
  for (const s of supervisor.list()) set.add(supervisor.get(s.id));
  return () => {
    sub.unsubscribe();
    set.detach();
    detachActor();
  };
}
