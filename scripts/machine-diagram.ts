// Pure converters from an XState machine definition to a mermaid stateDiagram-v2 text and a standalone SVG.
//
// No I/O here: scripts/gen-visualizations.ts writes the files and test/unit/visualizations.test.ts checks
// them for drift. The SVG layout is deterministic and offline (no browser): states are boxes in a layered
// layout per compound state (longest-path ranks, back edges broken by DFS from the initial child), parallel
// regions side by side, transitions as arrows — straight between adjacent ranks, routed along lanes at the
// side of their container otherwise. Targetless transitions are listed inside the box as `on EVENT`
// (UML internal transitions), invoked actors as `invoke NAME`.

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

// ---------------------------------------------------------------------------------------------
// Mermaid

/** A mermaid-safe identifier for a state (its key when unique, else its path). */
function mermaidIds(d: Diagram): Map<string, string> {
  const counts = new Map<string, number>();
  for (const s of d.states.values()) counts.set(s.key, (counts.get(s.key) ?? 0) + 1);
  const ids = new Map<string, string>();
  for (const s of d.states.values()) {
    const raw = (counts.get(s.key) ?? 0) > 1 ? s.id.slice(d.id.length + 1) : s.key;
    ids.set(s.id, raw.replace(/[^A-Za-z0-9_]/g, '_'));
  }
  return ids;
}

/** Mermaid label text: no colons or semicolons (they end a mermaid label). */
function mermaidText(s: string): string {
  return s.replace(/[:;]/g, ' ').replace(/\s+/g, ' ').trim();
}

/**
 * A mermaid `stateDiagram-v2` of the machine. Transitions crossing compound states are drawn between the
 * outermost distinct ancestors (mermaid cannot link into another composite) with `⇒ inner.target` appended.
 */
export function toMermaid(d: Diagram): string {
  const ids = mermaidIds(d);
  const lines: string[] = [
    'stateDiagram-v2',
    `  %% ${d.id} machine. Generated from machines/ by scripts/gen-visualizations.ts; do not edit.`,
  ];
  const byContainer = new Map<string, string[]>();
  for (const e of d.edges) {
    const p = projectEdge(d, e);
    const inner = e.target !== p.to ? ` ⇒ ${e.target.slice(p.to.length + 1)}` : '';
    const outer = e.source !== p.from ? ` (from ${e.source.slice(p.from.length + 1)})` : '';
    const text = mermaidText(`${e.label}${outer}${inner}`);
    const list = byContainer.get(p.container) ?? [];
    list.push(`${ids.get(p.from)} --> ${ids.get(p.to)} : ${text}`);
    byContainer.set(p.container, list);
  }
  const emitBody = (s: DiagramState, indent: string): void => {
    if (s.type === 'parallel') {
      s.children.forEach((region, i) => {
        if (i > 0) lines.push(`${indent}--`);
        emitState(region, indent);
      });
    } else {
      const initial = s.children.find((c) => c.key === s.initial);
      if (initial !== undefined) lines.push(`${indent}[*] --> ${ids.get(initial.id)}`);
      for (const c of s.children) emitState(c, indent);
    }
    for (const l of byContainer.get(s.id) ?? []) lines.push(`${indent}${l}`);
    for (const c of s.children) if (c.type === 'final') lines.push(`${indent}${ids.get(c.id)} --> [*]`);
  };
  const emitState = (s: DiagramState, indent: string): void => {
    const id = ids.get(s.id)!;
    if (id !== s.key) lines.push(`${indent}state "${s.key}" as ${id}`);
    if (s.children.length > 0) {
      lines.push(`${indent}state ${id} {`);
      emitBody(s, `${indent}  `);
      lines.push(`${indent}}`);
      for (const inv of s.invokes) lines.push(`${indent}%% ${id} invokes ${inv}`);
      for (const t of s.internal) lines.push(`${indent}%% ${id} internal ${mermaidText(t)}`);
    } else {
      for (const inv of s.invokes) lines.push(`${indent}${id} : invoke ${inv}`);
      for (const t of s.internal) lines.push(`${indent}${id} --> ${id} : ${mermaidText(t)}`);
    }
  };
  emitBody(d.root, '  ');
  // Transitions of the machine root itself (taken in every state) have no box of their own.
  for (const t of d.root.internal) lines.push(`  %% ${d.id} internal ${mermaidText(t)}`);
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// SVG layout

const CHAR_W = 7.2; // 12px monospace advance, approximately
const LINE_H = 16;
const PAD = 10;
const GAP_X = 36;
const GAP_MIN_Y = 40;
const LANE_GAP = 12;
const INIT_H = 26;
const REGION_GAP = 16;

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Layout of one state: size, header lines, child offsets, and the edges routed in it. */
interface Layout {
  readonly state: DiagramState;
  readonly w: number;
  readonly h: number;
  readonly header: readonly string[];
  /** Child layouts with offsets relative to this box. */
  readonly children: ReadonlyArray<{ layout: Layout; dx: number; dy: number }>;
  /** Offset of the content area (for lanes) relative to this box. */
  readonly contentLeft: number;
  readonly contentRight: number;
  readonly edges: readonly RoutedEdge[];
  readonly initial: string | undefined;
}

/** An edge routed inside a container (labels merged for the same source/target). */
interface RoutedEdge {
  readonly source: string;
  readonly target: string;
  readonly labels: string[];
  readonly route: 'direct' | 'left' | 'right';
  lane: number;
}

function textWidth(s: string): number {
  return Math.ceil(s.length * CHAR_W);
}

function headerOf(s: DiagramState): string[] {
  return [s.key, ...s.invokes.map((i) => `invoke ${i}`), ...s.internal.map((t) => `on ${t}`)];
}

/** Longest-path ranks of a compound's children; back edges found by DFS from the initial child. */
function ranks(
  children: readonly DiagramState[],
  initial: string | undefined,
  pairs: Array<[string, string]>,
) {
  const order = [...children].sort((a, b) => (a.key === initial ? -1 : b.key === initial ? 1 : 0));
  const succ = new Map<string, string[]>();
  for (const c of children) succ.set(c.id, []);
  for (const [a, b] of pairs) if (a !== b) succ.get(a)?.push(b);
  const back = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const dfs = (id: string): void => {
    state.set(id, 'open');
    for (const n of succ.get(id) ?? []) {
      const st = state.get(n);
      if (st === 'open') back.add(`${id}>${n}`);
      else if (st === undefined) dfs(n);
    }
    state.set(id, 'done');
  };
  for (const c of order) if (!state.has(c.id)) dfs(c.id);
  const rank = new Map<string, number>();
  for (const c of children) rank.set(c.id, 0);
  // Relax forward edges until stable (the forward graph is acyclic; at most n passes).
  for (let pass = 0; pass < children.length; pass++) {
    let changed = false;
    for (const [a, b] of pairs) {
      if (a === b || back.has(`${a}>${b}`)) continue;
      const r = (rank.get(a) ?? 0) + 1;
      if (r > (rank.get(b) ?? 0)) {
        rank.set(b, r);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return rank;
}

function layoutState(d: Diagram, s: DiagramState, edgesByContainer: Map<string, DiagramEdge[]>): Layout {
  const header = headerOf(s);
  const headerH = header.length * LINE_H + PAD;
  const headerW = Math.max(...header.map(textWidth)) + 2 * PAD;
  if (s.children.length === 0) {
    return {
      state: s,
      w: Math.max(headerW, 90),
      h: headerH + (s.type === 'final' ? 4 : 0),
      header,
      children: [],
      contentLeft: 0,
      contentRight: 0,
      edges: [],
      initial: undefined,
    };
  }
  const childLayouts = s.children.map((c) => layoutState(d, c, edgesByContainer));
  if (s.type === 'parallel') {
    let x = PAD;
    const top = headerH;
    const placed = childLayouts.map((l) => {
      const p = { layout: l, dx: x, dy: top };
      x += l.w + REGION_GAP;
      return p;
    });
    const w = Math.max(headerW, x - REGION_GAP + PAD);
    const h = top + Math.max(...childLayouts.map((l) => l.h)) + PAD;
    return {
      state: s,
      w,
      h,
      header,
      children: placed,
      contentLeft: PAD,
      contentRight: w - PAD,
      edges: [],
      initial: undefined,
    };
  }
  // Compound: route this container's edges, rank children, stack layers.
  const own = edgesByContainer.get(s.id) ?? [];
  const projected = own.map((e) => ({ e, p: projectEdge(d, e) }));
  const rank = ranks(
    s.children,
    s.initial,
    projected.map(({ p }) => [p.from, p.to]),
  );
  const merged = new Map<string, RoutedEdge>();
  for (const { e, p } of projected) {
    const key = `${e.source}>${e.target}`;
    const existing = merged.get(key);
    if (existing !== undefined) {
      existing.labels.push(e.label);
      continue;
    }
    const dr = (rank.get(p.to) ?? 0) - (rank.get(p.from) ?? 0);
    const route = p.from === p.to || dr < 0 ? 'right' : dr > 1 ? 'left' : 'direct';
    merged.set(key, { source: e.source, target: e.target, labels: [e.label], route, lane: 0 });
  }
  const routed = [...merged.values()];
  let left = 0;
  let right = 0;
  for (const r of routed) {
    if (r.route === 'left') r.lane = left++;
    if (r.route === 'right') r.lane = right++;
  }
  const labelW = (r: RoutedEdge) => Math.max(...r.labels.map(textWidth)) + 8;
  const zone = (side: 'left' | 'right') =>
    Math.max(
      0,
      ...routed.filter((r) => r.route === side).map((r) => (r.lane + 1) * LANE_GAP + labelW(r) + 6),
    );
  const leftZone = zone('left');
  const rightZone = zone('right');
  // Layers.
  const maxRank = Math.max(...[...rank.values()]);
  const layers: Array<Array<{ layout: Layout; state: DiagramState }>> = [];
  for (let r = 0; r <= maxRank; r++) layers.push([]);
  s.children.forEach((c, i) => {
    layers[rank.get(c.id) ?? 0]!.push({ layout: childLayouts[i]!, state: c });
  });
  // Gap below each layer: room for the labels of direct edges leaving it downwards.
  const layerOf = (id: string): number => {
    const lin = lineage(d, id);
    const child = lin.find((x) => d.states.get(x)?.parent === s.id);
    return child === undefined ? 0 : (rank.get(child) ?? 0);
  };
  const gaps = layers.map((_, r) => {
    const lines = routed
      .filter((e) => e.route === 'direct' && layerOf(e.source) === r && layerOf(e.target) !== r)
      .map((e) => e.labels.length);
    return Math.max(GAP_MIN_Y, (lines.length === 0 ? 0 : Math.max(...lines)) * LINE_H + 20);
  });
  const sameLayerLabel = Math.max(
    0,
    ...routed
      .filter((e) => e.route === 'direct' && layerOf(e.source) === layerOf(e.target))
      .map((e) => labelW(e) + 8),
  );
  const gapX = Math.max(GAP_X, sameLayerLabel);
  const layerW = layers.map(
    (l) => l.reduce((acc, c) => acc + c.layout.w, 0) + gapX * Math.max(0, l.length - 1),
  );
  const contentW = Math.max(...layerW);
  const contentLeft = PAD + leftZone;
  const top = headerH + INIT_H;
  const placed: Array<{ layout: Layout; dx: number; dy: number }> = [];
  let y = top;
  layers.forEach((layer, r) => {
    let x = contentLeft + (contentW - layerW[r]!) / 2;
    const lh = Math.max(0, ...layer.map((c) => c.layout.h));
    for (const c of layer) {
      placed.push({ layout: c.layout, dx: Math.round(x), dy: Math.round(y + (lh - c.layout.h) / 2) });
      x += c.layout.w + gapX;
    }
    y += lh + (r < layers.length - 1 ? gaps[r]! : 0);
  });
  // Keep child order = definition order for deterministic output.
  placed.sort((a, b) => s.children.indexOf(a.layout.state) - s.children.indexOf(b.layout.state));
  const w = Math.max(headerW, contentLeft + contentW + rightZone + PAD);
  return {
    state: s,
    w: Math.round(w),
    h: Math.round(y + PAD),
    header,
    children: placed,
    contentLeft,
    contentRight: contentLeft + contentW,
    edges: routed,
    initial: s.initial,
  };
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function n(x: number): string {
  return String(Math.round(x * 10) / 10);
}

/** Where the segment from the box center towards (tx, ty) leaves the box. */
function clip(b: Box, tx: number, ty: number): [number, number] {
  const cx = b.x + b.w / 2;
  const cy = b.y + b.h / 2;
  const dx = tx - cx;
  const dy = ty - cy;
  if (dx === 0 && dy === 0) return [cx, cy];
  const sx = dx === 0 ? Number.POSITIVE_INFINITY : b.w / 2 / Math.abs(dx);
  const sy = dy === 0 ? Number.POSITIVE_INFINITY : b.h / 2 / Math.abs(dy);
  const k = Math.min(sx, sy);
  return [cx + dx * k, cy + dy * k];
}

/** A label to place: its lines, and candidate anchor points in order of preference. */
interface LabelJob {
  readonly lines: readonly string[];
  readonly candidates: ReadonlyArray<{ x: number; y: number; anchor: 'start' | 'middle' | 'end' }>;
}

function labelRect(lines: readonly string[], x: number, y: number, anchor: 'start' | 'middle' | 'end'): Box {
  const w = Math.max(...lines.map(textWidth)) + 6;
  const h = lines.length * LINE_H;
  const left = anchor === 'start' ? x - 3 : anchor === 'end' ? x - w + 3 : x - w / 2;
  return { x: left, y: y - h / 2, w, h };
}

function overlap(a: Box, b: Box): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Place labels greedily at the candidate with the least overlap with obstacles and earlier labels. */
function placeLabels(jobs: readonly LabelJob[], obstacles: Box[]): string[] {
  const out: string[] = [];
  for (const job of jobs) {
    let best: { x: number; y: number; anchor: 'start' | 'middle' | 'end'; rect: Box } | undefined;
    let bestScore = Number.POSITIVE_INFINITY;
    for (const c of job.candidates) {
      const rect = labelRect(job.lines, c.x, c.y, c.anchor);
      let score = 0;
      for (const o of obstacles) score += overlap(rect, o);
      if (score < bestScore - 0.01) {
        bestScore = score;
        best = { ...c, rect };
      }
      if (score === 0) break;
    }
    if (best === undefined) continue;
    obstacles.push(best.rect);
    const r = best.rect;
    out.push(`<rect class="lbl" x="${n(r.x)}" y="${n(r.y)}" width="${n(r.w)}" height="${n(r.h)}"/>`);
    job.lines.forEach((l, i) => {
      out.push(
        `<text x="${n(best.x)}" y="${n(r.y + (i + 1) * LINE_H - 4)}" text-anchor="${best.anchor}">${esc(l)}</text>`,
      );
    });
  }
  return out;
}

/** Points along a segment, from the middle outwards. */
function along(x1: number, y1: number, x2: number, y2: number): Array<[number, number]> {
  return [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8, 0.12, 0.88].map((t) => [x1 + (x2 - x1) * t, y1 + (y2 - y1) * t]);
}

/** A standalone SVG of the machine (deterministic: same definition, same bytes). */
export function toSvg(d: Diagram): string {
  const edgesByContainer = new Map<string, DiagramEdge[]>();
  for (const e of d.edges) {
    const { container } = projectEdge(d, e);
    const list = edgesByContainer.get(container) ?? [];
    list.push(e);
    edgesByContainer.set(container, list);
  }
  const root = layoutState(d, d.root, edgesByContainer);
  const boxes = new Map<string, Box>();
  const layouts: Array<{ layout: Layout; x: number; y: number }> = [];
  const place = (l: Layout, x: number, y: number): void => {
    boxes.set(l.state.id, { x, y, w: l.w, h: l.h });
    layouts.push({ layout: l, x, y });
    for (const c of l.children) place(c.layout, x + c.dx, y + c.dy);
  };
  const M = 16;
  place(root, M, M);
  const W = root.w + 2 * M;
  const H = root.h + 2 * M;
  const shapes: string[] = [];
  const arrows: string[] = [];
  const jobs: LabelJob[] = [];
  const obstacles: Box[] = [];

  // Attachment points of lane edges: spread along each box side so arrows do not overlap.
  const attach = new Map<string, Array<{ key: string; order: number }>>();
  const laneEdges: Array<{ e: RoutedEdge; x: number; y: number; laneX: number }> = [];
  for (const { layout: l, x } of layouts) {
    for (const e of l.edges) {
      if (e.route === 'direct') continue;
      const side = e.route;
      const laneX =
        side === 'left'
          ? x + l.contentLeft - (e.lane + 1) * LANE_GAP
          : x + l.contentRight + (e.lane + 1) * LANE_GAP;
      laneEdges.push({ e, x, y: 0, laneX });
      for (const [id, role] of [
        [e.source, 'out'],
        [e.target, 'in'],
      ] as const) {
        const k = `${id}|${side}`;
        const list = attach.get(k) ?? [];
        list.push({ key: `${e.source}>${e.target}|${role}`, order: e.lane * 2 + (role === 'out' ? 0 : 1) });
        attach.set(k, list);
      }
    }
  }
  const attachY = (id: string, side: string, key: string): number => {
    const b = boxes.get(id)!;
    const list = [...(attach.get(`${id}|${side}`) ?? [])].sort((a, c) => a.order - c.order);
    const i = list.findIndex((a) => a.key === key);
    const span = Math.min(b.h - 8, list.length * 10);
    const top = b.y + (b.h - span) / 2;
    return list.length <= 1 ? b.y + b.h / 2 : top + (span * i) / (list.length - 1);
  };

  for (const { layout: l, x, y } of layouts) {
    const s = l.state;
    const isRoot = s.parent === undefined;
    const parentType = s.parent === undefined ? undefined : d.states.get(s.parent)?.type;
    const cls = isRoot
      ? 'root'
      : parentType === 'parallel'
        ? 'region'
        : s.type === 'final'
          ? 'final'
          : 'state';
    shapes.push(
      `<rect class="${cls}" x="${n(x)}" y="${n(y)}" width="${n(l.w)}" height="${n(l.h)}" rx="${isRoot ? 2 : 8}"/>`,
    );
    if (s.type === 'final') {
      shapes.push(
        `<rect class="final-inner" x="${n(x + 3)}" y="${n(y + 3)}" width="${n(l.w - 6)}" height="${n(l.h - 6)}" rx="6"/>`,
      );
    }
    const centered = l.children.length === 0;
    if (centered) obstacles.push({ x, y, w: l.w, h: l.h });
    else if (!isRoot) {
      obstacles.push({
        x,
        y,
        w: Math.max(...l.header.map(textWidth)) + 2 * PAD,
        h: l.header.length * LINE_H + PAD,
      });
    }
    l.header.forEach((line, i) => {
      const ty = y + PAD / 2 + (i + 1) * LINE_H - 3;
      const cls2 = i === 0 ? (isRoot ? 'title' : 'name') : 'detail';
      const tx = centered ? x + l.w / 2 : x + PAD;
      const anchor = centered ? ' text-anchor="middle"' : '';
      shapes.push(`<text class="${cls2}" x="${n(tx)}" y="${n(ty)}"${anchor}>${esc(line)}</text>`);
    });
    if (l.header.length > 1 && !centered) {
      const sy = y + LINE_H + PAD / 2 + 1;
      shapes.push(`<line class="sep" x1="${n(x)}" y1="${n(sy)}" x2="${n(x + l.w)}" y2="${n(sy)}"/>`);
    }
    if (l.initial !== undefined) {
      const target = l.state.children.find((c) => c.key === l.initial);
      const b = target === undefined ? undefined : boxes.get(target.id);
      const firstLayerTop = Math.min(...l.children.map((c) => y + c.dy));
      if (b !== undefined && b.y <= firstLayerTop + 1) {
        // Initial child in the top layer: marker above it.
        const cx = b.x + b.w / 2;
        const cy = b.y - INIT_H + 6;
        shapes.push(`<circle class="initial" cx="${n(cx)}" cy="${n(cy)}" r="5"/>`);
        arrows.push(
          `<path class="edge" d="M${n(cx)} ${n(cy + 5)} L${n(cx)} ${n(b.y)}" marker-end="url(#arrow)"/>`,
        );
        obstacles.push({ x: cx - 6, y: cy - 6, w: 12, h: b.y - cy + 6 });
      } else if (b !== undefined) {
        // Initial child further down: marker to its left.
        const cx = b.x - 22;
        const cy = b.y + b.h / 2;
        shapes.push(`<circle class="initial" cx="${n(cx)}" cy="${n(cy)}" r="5"/>`);
        arrows.push(
          `<path class="edge" d="M${n(cx + 5)} ${n(cy)} L${n(b.x)} ${n(cy)}" marker-end="url(#arrow)"/>`,
        );
        obstacles.push({ x: cx - 6, y: cy - 6, w: b.x - cx + 6, h: 12 });
      }
    }
    const reverse = new Set(
      l.edges.filter((e) => e.route === 'direct').map((e) => `${e.source}>${e.target}`),
    );
    for (const e of l.edges) {
      if (e.route !== 'direct') continue;
      const sb = boxes.get(e.source);
      const tb = boxes.get(e.target);
      if (sb === undefined || tb === undefined) continue;
      let [x1, y1] = clip(sb, tb.x + tb.w / 2, tb.y + tb.h / 2);
      let [x2, y2] = clip(tb, sb.x + sb.w / 2, sb.y + sb.h / 2);
      if (reverse.has(`${e.target}>${e.source}`)) {
        // Two opposite arrows between the same pair: shift each to its own side.
        const len = Math.hypot(x2 - x1, y2 - y1) || 1;
        const ox = (-(y2 - y1) / len) * 6;
        const oy = ((x2 - x1) / len) * 6;
        x1 += ox;
        y1 += oy;
        x2 += ox;
        y2 += oy;
      }
      arrows.push(`<path class="edge" d="M${n(x1)} ${n(y1)} L${n(x2)} ${n(y2)}" marker-end="url(#arrow)"/>`);
      const horizontal = Math.abs(y2 - y1) < 1;
      const lift = horizontal ? (e.labels.length * LINE_H) / 2 + 3 : 0;
      jobs.push({
        lines: e.labels,
        candidates: along(x1, y1, x2, y2).flatMap(([px, py]) =>
          horizontal
            ? [{ x: px, y: py - lift, anchor: 'middle' as const }]
            : [
                { x: px, y: py, anchor: 'middle' as const },
                { x: px + 6, y: py, anchor: 'start' as const },
                { x: px - 6, y: py, anchor: 'end' as const },
              ],
        ),
      });
    }
  }
  for (const { e, laneX } of laneEdges) {
    const side = e.route;
    const sb = boxes.get(e.source)!;
    const tb = boxes.get(e.target)!;
    const y1 = attachY(e.source, side, `${e.source}>${e.target}|out`);
    const y2 = attachY(e.target, side, `${e.source}>${e.target}|in`);
    const sx = side === 'left' ? sb.x : sb.x + sb.w;
    const tx = side === 'left' ? tb.x : tb.x + tb.w;
    arrows.push(
      `<path class="edge" d="M${n(sx)} ${n(y1)} L${n(laneX)} ${n(y1)} L${n(laneX)} ${n(y2)} L${n(tx)} ${n(y2)}" marker-end="url(#arrow)"/>`,
    );
    obstacles.push({ x: laneX - 1, y: Math.min(y1, y2), w: 2, h: Math.abs(y2 - y1) });
    const anchor = side === 'left' ? ('end' as const) : ('start' as const);
    const lx = side === 'left' ? laneX - 4 : laneX + 4;
    jobs.push({
      lines: e.labels,
      candidates: along(laneX, y1, laneX, y2).map(([, py]) => ({ x: lx, y: py, anchor })),
    });
  }
  const labels = placeLabels(jobs, obstacles);
  const style = [
    'text{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;fill:#1f2328}',
    '.title{font-weight:bold;font-size:13px}',
    '.name{font-weight:bold}',
    '.detail{fill:#57606a}',
    '.root{fill:#ffffff;stroke:#d0d7de}',
    '.state{fill:#f6f8fa;stroke:#57606a;stroke-width:1.2}',
    '.region{fill:#ffffff;stroke:#8c959f;stroke-dasharray:5 3}',
    '.final{fill:#f6f8fa;stroke:#1f2328;stroke-width:1.2}',
    '.final-inner{fill:none;stroke:#1f2328}',
    '.sep{stroke:#d0d7de}',
    '.initial{fill:#1f2328}',
    '.edge{fill:none;stroke:#0969da;stroke-width:1.2}',
    '.lbl{fill:#ffffff;fill-opacity:0.85}',
  ].join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${n(W)}" height="${n(H)}" viewBox="0 0 ${n(W)} ${n(H)}">`,
    `<title>${esc(d.id)} state machine</title>`,
    `<style>${style}</style>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="#0969da"/></marker></defs>',
    `<rect x="0" y="0" width="${n(W)}" height="${n(H)}" fill="#ffffff"/>`,
    ...shapes,
    ...arrows,
    ...labels,
    '</svg>',
    '',
  ].join('\n');
}

/** Both renderings of a machine, keyed by file extension. */
export function renderMachine(machine: AnyStateMachine): { mmd: string; svg: string } {
  const d = toDiagram(machine);
  return { mmd: toMermaid(d), svg: toSvg(d) };
}
