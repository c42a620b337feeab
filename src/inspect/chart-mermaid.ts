// A machine graph as a mermaid stateDiagram-v2 text (visualizations/<machine>.mmd, readable in any mermaid viewer).

import { type Diagram, type DiagramState, projectEdge } from './chart-model.js';

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
