// Lays a machine graph out with elkjs (Eclipse's layered layout): the chart of the inspector page and of visualizations/.
//
// Every compound state is laid out on its own (ELK's default SEPARATE_CHILDREN): a transition is drawn
// between the direct children of the deepest state containing both ends (as the mermaid text does),
// with `⇒ inner.target` / `(from inner.source)` in its label when it reaches deeper. Text is measured
// as 12 px monospace, so the layout needs no browser and is the same bytes on every machine.

import elkBundled from 'elkjs/lib/elk.bundled.js';
import type {
  ELKConstructorArguments,
  ElkExtendedEdge,
  ELK as ElkInstance,
  ElkNode,
} from 'elkjs/lib/elk-api.js';
import { type Diagram, type DiagramState, projectEdge } from './chart-model.js';

/** Advance of one 12 px monospace character (DejaVu Sans Mono, Liberation Mono: 0.6 em). */
export const CHAR_W = 7.2;
/** One line of state text. */
export const LINE_H = 16;
const PAD = 8;
/** Height of a compound state's title bar. */
export const HEADER_H = 24;
/** Side of the initial-state dot. */
export const INITIAL_D = 12;

/** A state placed on the chart (absolute coordinates). */
export interface PlacedState {
  /** State path below the machine (`active.run.running`; `''` for the machine itself). */
  readonly path: string;
  readonly key: string;
  readonly type: DiagramState['type'];
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  /** Text lines under the name: `invoke NAME`, `on EVENT` (targetless transitions). */
  readonly notes: readonly string[];
  /** Whether it holds other states (drawn as a container with a title bar). */
  readonly container: boolean;
}

/** A transition placed on the chart: a polyline (absolute) and its label box. */
export interface PlacedEdge {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly points: readonly { x: number; y: number }[];
  readonly label: { text: string; x: number; y: number; width: number; height: number } | undefined;
  /** True for the arrow from an initial dot. */
  readonly initial: boolean;
}

/** The laid-out chart: what {@link chartSvg} draws. */
export interface ChartLayout {
  readonly machine: string;
  readonly width: number;
  readonly height: number;
  readonly states: readonly PlacedState[];
  /** Initial dots, by the path of the state they point to. */
  readonly initials: readonly { readonly path: string; readonly x: number; readonly y: number }[];
  readonly edges: readonly PlacedEdge[];
}

/** Path of a state below the machine id (`sandbox.active.run` → `active.run`). */
export function statePath(d: Diagram, id: string): string {
  return id === d.root.id ? '' : id.slice(d.root.id.length + 1);
}

function textWidth(s: string): number {
  return Math.ceil(s.length * CHAR_W);
}

function notesOf(s: DiagramState): string[] {
  return [...s.invokes.map((i) => `invoke ${i}`), ...s.internal.map((t) => `on ${t}`)];
}

/** elkjs's CommonJS export seen from ESM (`module.exports` is the constructor; its types say `default`). */
const ELK = elkBundled as unknown as new (args?: ELKConstructorArguments) => ElkInstance;

const LAYERED = {
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.layered.spacing.nodeNodeBetweenLayers': '36',
  'elk.spacing.nodeNode': '28',
  'elk.spacing.edgeLabel': '4',
  'elk.spacing.edgeNode': '14',
  'elk.layered.spacing.edgeNodeBetweenLayers': '14',
  'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
  'elk.edgeLabels.placement': 'CENTER',
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.randomSeed': '1',
};

/** The ELK input graph of a compound state (its children, its initial dot, its projected edges). */
function elkNode(d: Diagram, s: DiagramState, edgesOf: Map<string, ElkExtendedEdge[]>): ElkNode {
  const notes = notesOf(s);
  if (s.children.length === 0) {
    const lines = [s.key, ...notes];
    return {
      id: s.id,
      width: Math.max(...lines.map(textWidth)) + 2 * PAD + (s.type === 'final' ? 6 : 0),
      height: lines.length * LINE_H + 2 * PAD - 4 + (s.type === 'final' ? 6 : 0),
    };
  }
  const children = s.children.map((c) => elkNode(d, c, edgesOf));
  const edges = [...(edgesOf.get(s.id) ?? [])];
  const initial = s.children.find((c) => c.key === s.initial);
  if (initial && s.type !== 'parallel') {
    children.unshift({ id: `${s.id}#initial`, width: INITIAL_D, height: INITIAL_D });
    edges.unshift({ id: `${s.id}#initial-edge`, sources: [`${s.id}#initial`], targets: [initial.id] });
  }
  const top = HEADER_H + notes.length * LINE_H;
  const minWidth = Math.max(textWidth(s.key), ...notes.map(textWidth)) + 2 * PAD;
  return {
    id: s.id,
    children,
    edges,
    layoutOptions: {
      ...LAYERED,
      // Parallel regions side by side: one layer, no edges between them.
      ...(s.type === 'parallel'
        ? { 'elk.separateConnectedComponents': 'false', 'elk.spacing.nodeNode': '16' }
        : {}),
      'elk.padding': `[top=${top},left=${PAD + 4},bottom=${PAD + 4},right=${PAD + 4}]`,
      'elk.nodeSize.constraints': 'MINIMUM_SIZE',
      'elk.nodeSize.minimum': `(${minWidth}, ${top + LINE_H})`,
    },
  };
}

/** Every transition as an ELK edge in the container it is drawn in, with its label box. */
function elkEdges(d: Diagram): Map<string, ElkExtendedEdge[]> {
  const byContainer = new Map<string, ElkExtendedEdge[]>();
  d.edges.forEach((e, i) => {
    const p = projectEdge(d, e);
    const inner = e.target !== p.to ? ` ⇒ ${e.target.slice(p.to.length + 1)}` : '';
    const outer = e.source !== p.from ? ` (from ${e.source.slice(p.from.length + 1)})` : '';
    const text = `${e.label}${outer}${inner}`;
    const list = byContainer.get(p.container) ?? [];
    list.push({
      id: `e${i}`,
      sources: [p.from],
      targets: [p.to],
      labels: [{ id: `e${i}-label`, text, width: textWidth(text), height: LINE_H - 2 }],
    });
    byContainer.set(p.container, list);
  });
  return byContainer;
}

/** Flattens ELK's relative coordinates into a {@link ChartLayout}. */
function place(d: Diagram, laid: ElkNode): ChartLayout {
  const states: PlacedState[] = [];
  const initials: { path: string; x: number; y: number }[] = [];
  const edges: PlacedEdge[] = [];
  const walk = (n: ElkNode, ox: number, oy: number): void => {
    const x = ox + (n.x ?? 0);
    const y = oy + (n.y ?? 0);
    for (const e of n.edges ?? []) {
      const sec = e.sections?.[0];
      if (!sec) continue;
      const pts = [sec.startPoint, ...(sec.bendPoints ?? []), sec.endPoint].map((p) => ({
        x: x + p.x,
        y: y + p.y,
      }));
      const l = e.labels?.[0];
      const from = e.sources[0] ?? '';
      const to = e.targets[0] ?? '';
      edges.push({
        id: e.id,
        from: from.endsWith('#initial') ? '' : statePath(d, from),
        to: statePath(d, to),
        points: pts,
        label:
          l === undefined
            ? undefined
            : {
                text: l.text ?? '',
                x: x + (l.x ?? 0),
                y: y + (l.y ?? 0),
                width: l.width ?? 0,
                height: l.height ?? 0,
              },
        initial: from.endsWith('#initial'),
      });
    }
    for (const c of n.children ?? []) {
      const cx = x + (c.x ?? 0);
      const cy = y + (c.y ?? 0);
      if (c.id.endsWith('#initial')) {
        initials.push({ path: statePath(d, c.id.slice(0, -'#initial'.length)), x: cx, y: cy });
        continue;
      }
      const s = d.states.get(c.id);
      if (!s) continue;
      states.push({
        path: statePath(d, s.id),
        key: s.key,
        type: s.type,
        x: cx,
        y: cy,
        width: c.width ?? 0,
        height: c.height ?? 0,
        notes: notesOf(s),
        container: s.children.length > 0,
      });
      walk(c, x, y);
    }
  };
  walk(laid, 0, 0);
  return { machine: d.id, width: laid.width ?? 0, height: laid.height ?? 0, states, initials, edges };
}

/**
 * Lays the machine's graph out with elkjs: states nested as in the machine (parallel regions side by
 * side), transitions routed orthogonally with their labels placed by ELK.
 *
 * @example
 * ```ts
 * const layout = await layoutChart(toDiagram(sandboxMachine));
 * writeFileSync('sandbox.svg', chartSvg(layout));
 * ```
 */
export async function layoutChart(d: Diagram): Promise<ChartLayout> {
  const edgesOf = elkEdges(d);
  const root = elkNode(d, d.root, edgesOf);
  const graph: ElkNode = {
    id: `${d.id}#chart`,
    children: [root],
    layoutOptions: { ...LAYERED, 'elk.padding': '[top=8,left=8,bottom=8,right=8]' },
  };
  const laid = await new ELK().layout(graph);
  return place(d, laid);
}
