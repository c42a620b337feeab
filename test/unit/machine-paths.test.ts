// Transition coverage of the sandbox machine from paths generated with @xstate/graph.
//
// 1. getShortestPaths() explores the machine (pure) with sample events and yields a path to every state.
// 2. Each adjacency edge whose event enables a transition not yet exercised extends the shortest path
//    to its source by that event.
// 3. Every path is replayed on a live actor (inert stub effects, simulated clock) and the transitions
//    actually taken are read from xstate's inspection API (`@xstate.microstep` carries `_transitions`),
//    so eventless (`always`) transitions and guards count too.
// Coverage = exercised transitions / transitions in the machine definition; asserted to be 100%.

import {
  type AdjacencyValue,
  getAdjacencyMap,
  getPathsFromEvents,
  getShortestPaths,
  type StatePath,
} from '@xstate/graph';
import { describe, expect, it } from 'vitest';
import {
  type AnyEventObject,
  type AnyMachineSnapshot,
  type AnyStateMachine,
  type AnyTransitionDefinition,
  createActor,
  getMicrosteps,
  initialTransition,
  SimulatedClock,
} from 'xstate';
import type { SandboxOperation } from '../../machines/operation.types.js';
import { sandboxMachine } from '../../machines/sandbox.machine.js';
import type {
  HasCapacityParams,
  SandboxMachineEvent,
  SandboxMachineInput,
} from '../../machines/sandbox.types.js';
import {
  done,
  failed,
  LAUNCHED,
  pauseFailed,
  resumeFailed,
  START_TIMEOUT,
  stopOutput,
  stubbedMachine,
  VM_PAUSED,
  VM_RESUMED,
} from './machine-fixtures.js';

type AnyNode = AnyStateMachine['root'];

/** A stable key for a transition of the definition: source state id, event (or `always`), index. */
function transitionKey(t: AnyTransitionDefinition): string {
  const source = t.source as AnyNode;
  if (t.eventType === '') {
    const i = (source.always ?? []).indexOf(t);
    return `${source.id} ─always#${i}→`;
  }
  const list = source.transitions.get(t.eventType) ?? [];
  return `${source.id} ─${t.eventType}#${list.indexOf(t)}→`;
}

/** Every transition in a machine definition (event transitions, delayed, done/error, eventless). */
function definedTransitions(machine: AnyStateMachine): string[] {
  const keys: string[] = [];
  const visit = (node: AnyNode): void => {
    for (const list of node.transitions.values()) for (const t of list) keys.push(transitionKey(t));
    for (const t of node.always ?? []) keys.push(transitionKey(t));
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(machine.root);
  return keys;
}

const INPUT: SandboxMachineInput = {
  sandboxId: 'sb-paths',
  guestMemoryDump: { path: '/dump', paging: false },
};
const INPUT_NO_DUMP: SandboxMachineInput = { sandboxId: 'sb-paths' };

const DISK: SandboxOperation = { kind: 'hotplug', device: { kind: 'block', id: 'd1', file: '/tmp/d1.img' } };
const CPUS: SandboxOperation = { kind: 'resize-vcpus', count: 4 };
const TOO_MANY: SandboxOperation = { kind: 'resize-vcpus', count: 64 };

/** The machine explored: stub effects, and a capacity guard that refuses more than 8 vCPUs. */
const machine = stubbedMachine().provide({
  guards: {
    hasCapacity: (_args, params: HasCapacityParams) =>
      params.op.kind !== 'resize-vcpus' || params.op.count <= 8,
  },
});
// @xstate/graph's generics do not line up with a provided machine's types; traverse it as any machine.
const logic: AnyStateMachine = machine;
type Event = AnyEventObject;
type Snapshot = AnyMachineSnapshot;

/** Sample events: every user, QMP and process event, and done/error of every invoked actor. */
const SAMPLES: SandboxMachineEvent[] = [
  { type: 'START' },
  { type: 'PAUSE' },
  { type: 'RESUME' },
  { type: 'STOP' },
  { type: 'STOP', waitOnly: true },
  { type: 'OPERATION', id: 'a', op: DISK },
  { type: 'OPERATION', id: 'b', op: CPUS },
  { type: 'OPERATION', id: 'big', op: TOO_MANY },
  { type: 'operation.applied', id: 'a' },
  { type: 'operation.applied', id: 'b' },
  { type: 'operation.rolled-back', id: 'a' },
  { type: 'qmp.STOP' },
  { type: 'qmp.RESUME' },
  { type: 'qmp.SHUTDOWN', guest: true, reason: 'guest-shutdown' },
  { type: 'qmp.SHUTDOWN', guest: false, reason: 'host-signal' },
  { type: 'qmp.GUEST_PANICKED', action: 'pause' },
  { type: 'qmp.DEVICE_DELETED', device: 'd1', path: '/machine/peripheral/d1' },
  { type: 'qmp.disconnected', error: 'EOF' },
  { type: 'process.exited', which: 'qemu', code: null, signal: 'SIGKILL' },
  { type: 'process.exited', which: 'virtiofsd', code: 1, signal: null },
  done('launch', LAUNCHED),
  failed('launch', 'spawn failed'),
  START_TIMEOUT,
  failed('watch', 'watcher failed'),
  VM_PAUSED,
  pauseFailed('pause failed'),
  VM_RESUMED,
  resumeFailed('resume failed'),
  done('runOperation', 'ok'),
  failed('runOperation', 'op failed'),
  done('dumpGuestMemory'),
  failed('dumpGuestMemory', 'dump failed'),
  done('shutdown'),
  done('shutdown', { qemu: { code: 0, signal: null }, stderrTail: 'qemu: terminating on signal 15' }),
  failed('shutdown', 'ladder failed'),
  done('cleanup'),
  failed('cleanup', 'cleanup failed'),
];

/** Only offer actor done/error events to states that are running that actor. */
function eventsFor(snapshot: Snapshot): Event[] {
  return SAMPLES.filter((e) => {
    const m = /^xstate\.(?:done|error)\.actor\.(.+)$/.exec(e.type);
    return m === null || (m[1] !== undefined && m[1] in snapshot.children);
  });
}

/** Replay a path's events on a live actor; return the keys of the transitions taken. */
function replay(events: readonly Event[], input: SandboxMachineInput): { taken: string[]; final: unknown } {
  const taken: string[] = [];
  const actor = createActor(machine, {
    input,
    clock: new SimulatedClock(),
    inspect: (ev) => {
      if (ev.type !== '@xstate.microstep' || ev.actorRef !== actor) return;
      for (const t of ev._transitions) taken.push(transitionKey(t));
    },
  });
  actor.start();
  for (const e of events) actor.send(e as SandboxMachineEvent);
  const final = actor.getSnapshot().value;
  actor.stop();
  return { taken, final };
}

/** Events of a generated path, without the init step. */
function eventsOf(path: StatePath<Snapshot, Event>): Event[] {
  return path.steps.map((s) => s.event).filter((e) => e.type !== 'xstate.init');
}

interface Coverage {
  readonly shortest: Array<StatePath<Snapshot, Event>>;
  readonly defined: string[];
  readonly exercised: Set<string>;
  readonly paths: number;
  readonly states: number;
  readonly edges: number;
}

/** Generate paths for one input and measure which transitions they exercise. */
function measure(
  input: SandboxMachineInput,
  exercised: Set<string>,
): {
  paths: number;
  states: number;
  edges: number;
  shortest: Array<StatePath<Snapshot, Event>>;
} {
  const options = { input, events: eventsFor };
  const shortest = getShortestPaths(logic, options);
  let paths = 0;
  const bySerial = new Map<string, StatePath<Snapshot, Event>>();
  for (const path of shortest) {
    bySerial.set(JSON.stringify({ value: path.state.value, context: path.state.context }), path);
    const { taken, final } = replay(eventsOf(path), input);
    // The pure traversal and the live actor agree on where the path ends.
    expect(final).toEqual(path.state.value);
    for (const k of taken) exercised.add(k);
    paths++;
  }
  // Extend with adjacency edges whose event would take a transition not yet exercised.
  const adjacency = getAdjacencyMap(logic, {
    ...options,
    serializeState: (s) => JSON.stringify({ value: s.value, context: s.context }),
    serializeEvent: (e) => JSON.stringify(e),
    events: eventsFor,
  });
  const edgeList: Array<{ serial: string; state: Snapshot; event: Event; enabled: string[] }> = [];
  for (const [serial, value] of Object.entries(adjacency) as Array<
    [string, AdjacencyValue<Snapshot, Event>]
  >) {
    for (const { event } of Object.values(value.transitions)) {
      const enabled = logic.getTransitionData(value.state, event).map(transitionKey);
      if (enabled.length > 0) edgeList.push({ serial, state: value.state, event, enabled });
    }
  }
  const defined = definedTransitions(machine);
  const complete = () => defined.every((k) => exercised.has(k));
  const extend = (edge: { serial: string; event: Event }) => {
    const prefix = bySerial.get(edge.serial);
    if (prefix === undefined) return;
    for (const k of replay([...eventsOf(prefix), edge.event], input).taken) exercised.add(k);
    paths++;
  };
  // First pass: edges whose own transitions are new. Second pass (eventless transitions hide behind
  // already-covered ones, e.g. an OPERATION refused at admission): every enabling edge until complete.
  for (const edge of edgeList) if (!edge.enabled.every((k) => exercised.has(k))) extend(edge);
  const eventless = edgeList
    .filter((edge) => getMicrosteps(logic, edge.state, edge.event).length > 1)
    .sort(
      (x, y) => (bySerial.get(x.serial)?.steps.length ?? 0) - (bySerial.get(y.serial)?.steps.length ?? 0),
    );
  for (const edge of eventless) {
    if (complete()) break;
    extend(edge);
  }
  const edges = edgeList.length;
  return { paths, states: shortest.length, edges, shortest };
}

function coverage(): Coverage {
  const exercised = new Set<string>();
  const a = measure(INPUT, exercised);
  const b = measure(INPUT_NO_DUMP, exercised);
  return {
    shortest: [...a.shortest, ...b.shortest],
    defined: definedTransitions(machine),
    exercised,
    paths: a.paths + b.paths,
    states: a.states + b.states,
    edges: a.edges + b.edges,
  };
}

describe('sandbox machine: transition coverage from generated paths', () => {
  const result = coverage();
  const covered = result.defined.filter((k) => result.exercised.has(k));
  const missing = result.defined.filter((k) => !result.exercised.has(k));
  const percent = ((100 * covered.length) / result.defined.length).toFixed(1);
  console.log(
    `sandbox machine transition coverage: ${covered.length}/${result.defined.length} (${percent}%) ` +
      `from ${result.paths} replayed paths over ${result.states} explored states and ${result.edges} edges`,
  );

  it('the definition has transitions to cover, each with a unique key', () => {
    expect(result.defined.length).toBeGreaterThan(40);
    expect(new Set(result.defined).size).toBe(result.defined.length);
  });

  it('the generated paths exercise every transition of the definition at least once', () => {
    expect(missing).toEqual([]);
    expect(percent).toBe('100.0');
  });

  it('the paths exercise nothing outside the definition', () => {
    const defined = new Set(result.defined);
    expect([...result.exercised].filter((k) => !defined.has(k))).toEqual([]);
  });

  it('every top-level phase and every stop reason is reached by some shortest path', () => {
    const phases = new Set<string>();
    const reasons = new Set<string>();
    for (const p of result.shortest) {
      phases.add(p.state.context.phase);
      if (p.state.status === 'done' && p.state.context.stopReason !== null)
        reasons.add(p.state.context.stopReason);
    }
    expect([...phases].sort()).toEqual(['created', 'paused', 'running', 'starting', 'stopped', 'stopping']);
    expect([...reasons].sort()).toEqual([
      'crashed',
      'guest-panicked',
      'guest-shutdown',
      'requested',
      'start-failed',
      'virtiofsd-exited',
    ]);
  });

  it('the documented lifecycle follows from a fixed event sequence (getPathsFromEvents)', () => {
    const events = [
      { type: 'START' },
      done('launch', LAUNCHED),
      { type: 'PAUSE' },
      VM_PAUSED,
      { type: 'RESUME' },
      VM_RESUMED,
      { type: 'STOP' },
      done('shutdown'),
    ];
    // `events` in the options (the samples) overrides the sequence as the traversal's event source.
    const [fromState] = initialTransition(logic, INPUT_NO_DUMP);
    const [path] = getPathsFromEvents(logic, events, { fromState, events: eventsFor });
    expect(path?.state.value).toBe('stopped');
    expect(path?.state.output).toEqual(stopOutput({ stopReason: 'requested', stopError: null }));
  });
});

// Keep the unprovided definition honest too: its transitions are the same as the provided one's.
describe('sandbox machine: provided and unprovided definitions', () => {
  it('have the same transitions', () => {
    expect(definedTransitions(sandboxMachine)).toEqual(definedTransitions(machine));
  });
});
