// A machine definition as a plain graph (states, transitions with labels): what the charts of the inspector and visualizations/ draw.

import type { AnyStateMachine, AnyTransitionDefinition } from 'xstate';

type AnyNode = AnyStateMachine['root'];

/** A state of the diagram (the machine root is the outermost). */
export interface DiagramState {
  /** Full state id, e.g. `sandbox.active.run.running`. */
  readonly id: string;
  /** Key within its parent (the machine id for the root). */
  readonly key: string;
  readonly type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  /** Key of the initial child (compound states). */
  readonly initial: string | undefined;
  readonly children: readonly DiagramState[];
  /** Ids of invoked actors (`invoke NAME`). */
  readonly invokes: readonly string[];
  /** Labels of targetless transitions handled here. */
  readonly internal: readonly string[];
  readonly parent: string | undefined;
}

/** A transition with a target (one per target), in definition order. */
export interface DiagramEdge {
  readonly source: string;
  readonly target: string;
  readonly label: string;
}

/** The machine as a plain graph. */
export interface Diagram {
  readonly id: string;
  readonly root: DiagramState;
  readonly states: ReadonlyMap<string, DiagramState>;
  readonly edges: readonly DiagramEdge[];
}

/** A readable name for a transition's event. */
export function eventLabel(eventType: string, sourceId: string): string {
  if (eventType === '') return 'always';
  const after = /^xstate\.after\.(.+)\.([^.]+(?:\.[^.]+)*)$/.exec(eventType);
  if (after !== null && eventType.endsWith(`.${sourceId}`)) {
    return `after ${eventType.slice('xstate.after.'.length, eventType.length - sourceId.length - 1)}`;
  }
  const actor = /^xstate\.(done|error)\.actor\.(.+)$/.exec(eventType);
  if (actor !== null) return `${actor[1]} ${actor[2]}`;
  const stateDone = /^xstate\.done\.state\.(.+)$/.exec(eventType);
  if (stateDone !== null) return `done ${stateDone[1]}`;
  return eventType;
}

/** The name of a transition's guard, if any. */
function guardName(guard: unknown): string | undefined {
  if (guard === undefined || guard === null) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && 'type' in guard && typeof guard.type === 'string') return guard.type;
  if (typeof guard === 'function') return guard.name !== '' ? guard.name : 'guard';
  return 'guard';
}

/** `EVENT [guard]` for a transition. */
export function transitionLabel(t: AnyTransitionDefinition): string {
  const source = t.source as AnyNode;
  const guard = guardName(t.guard);
  const event = eventLabel(t.eventType, source.id);
  return guard === undefined ? event : `${event} [${guard}]`;
}

/** Every transition of a node: event ones (incl. delayed and done/error) then eventless. */
function transitionsOf(node: AnyNode): AnyTransitionDefinition[] {
  const out: AnyTransitionDefinition[] = [];
  for (const list of node.transitions.values()) out.push(...list);
  out.push(...(node.always ?? []));
  return out;
}

/** Build the plain graph of a machine definition. */
export function toDiagram(machine: AnyStateMachine): Diagram {
  const states = new Map<string, DiagramState>();
  const edges: DiagramEdge[] = [];
  const build = (node: AnyNode, parent: string | undefined): DiagramState => {
    const internal: string[] = [];
    for (const t of transitionsOf(node)) {
      const targets = (t.target ?? []) as AnyNode[];
      if (targets.length === 0) internal.push(transitionLabel(t));
      for (const target of targets)
        edges.push({ source: node.id, target: target.id, label: transitionLabel(t) });
    }
    const initialTarget =
      node.type === 'compound' ? (node.initial?.target?.[0] as AnyNode | undefined) : undefined;
    const state: DiagramState = {
      id: node.id,
      key: parent === undefined ? machine.id : node.key,
      type: node.type,
      initial: initialTarget?.key,
      children: [],
      invokes: node.invoke.map((inv) => inv.id),
      internal,
      parent,
    };
    const children = Object.values(node.states).map((child) => build(child, node.id));
    const built: DiagramState = { ...state, children };
    states.set(node.id, built);
    return built;
  };
  const root = build(machine.root, undefined);
  return { id: machine.id, root, states, edges };
}

/** Ancestor ids of a state, root first, the state itself last. */
function lineage(d: Diagram, id: string): string[] {
  const out: string[] = [];
  let cur: string | undefined = id;
  while (cur !== undefined) {
    out.unshift(cur);
    cur = d.states.get(cur)?.parent;
  }
  return out;
}

/** The container an edge belongs to, and its endpoints projected to that container's children. */
export function projectEdge(d: Diagram, e: DiagramEdge): { container: string; from: string; to: string } {
  const a = lineage(d, e.source);
  const b = lineage(d, e.target);
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  // a[i-1] is the deepest common ancestor-or-self. If one end contains the other, use its parent.
  if (i === a.length || i === b.length) {
    const container = a[Math.max(0, Math.min(a.length, b.length) - 2)] ?? a[0]!;
    const end = a[Math.min(a.length, b.length) - 1]!;
    return { container, from: end, to: end };
  }
  return { container: a[i - 1]!, from: a[i]!, to: b[i]! };
}
