// Draws a laid-out chart as a standalone SVG: one <g data-state="path"> per state, so the page highlights active states by class.

import {
  type ChartLayout,
  HEADER_H,
  INITIAL_D,
  LINE_H,
  type PlacedEdge,
  type PlacedState,
} from './chart-layout.js';

/** Escapes text for XML content and attributes. */
export function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const STYLE = `
  .state > rect { fill: #f7f9fc; stroke: #4a5568; stroke-width: 1.2; }
  .state.container > rect { fill: #ffffff; stroke: #718096; }
  .state.parallel > rect { stroke-dasharray: 5 3; }
  .state.region > rect { fill: #fbfcfe; }
  .state text { font: 12px monospace; fill: #1a202c; }
  .state text.name { font-weight: bold; }
  .state text.note { fill: #4a5568; }
  .state.final > rect.inner { fill: none; }
  .state.active > rect { fill: #e3f9ee; stroke: #0f9d58; stroke-width: 2.4; }
  .state.active.container > rect { fill: #f3fcf7; }
  .edge path { fill: none; stroke: #718096; stroke-width: 1.1; marker-end: url(#arrow); }
  .edge rect { fill: #ffffff; opacity: 0.85; }
  .edge text { font: 11px monospace; fill: #2d3748; }
  .initial { fill: #1a202c; }
`;

function n(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function stateSvg(s: PlacedState, parallel: ReadonlySet<string>): string {
  const kind = [
    'state',
    s.container ? 'container' : '',
    s.type === 'parallel' ? 'parallel' : '',
    s.type === 'final' ? 'final' : '',
    parallel.has(s.path.slice(0, Math.max(0, s.path.lastIndexOf('.')))) && s.container ? 'region' : '',
  ]
    .filter(Boolean)
    .join(' ');
  const parts = [
    `<g class="${kind}" data-state="${xml(s.path)}">`,
    `<rect x="${n(s.x)}" y="${n(s.y)}" width="${n(s.width)}" height="${n(s.height)}" rx="${s.container ? 6 : 10}"/>`,
  ];
  if (s.type === 'final') {
    parts.push(
      `<rect class="inner" x="${n(s.x + 3)}" y="${n(s.y + 3)}" width="${n(s.width - 6)}" height="${n(s.height - 6)}" rx="8"/>`,
    );
  }
  const tx = s.x + 8;
  const first = s.container ? s.y + HEADER_H - 8 : s.y + LINE_H + 1 + (s.type === 'final' ? 3 : 0);
  parts.push(`<text class="name" x="${n(tx)}" y="${n(first)}">${xml(s.key || '(machine)')}</text>`);
  s.notes.forEach((note, i) => {
    parts.push(`<text class="note" x="${n(tx)}" y="${n(first + (i + 1) * LINE_H)}">${xml(note)}</text>`);
  });
  parts.push('</g>');
  return parts.join('');
}

function edgeSvg(e: PlacedEdge): string {
  const d = e.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${n(p.x)} ${n(p.y)}`).join(' ');
  const parts = [`<g class="edge" data-from="${xml(e.from)}" data-to="${xml(e.to)}">`, `<path d="${d}"/>`];
  if (e.label) {
    const l = e.label;
    parts.push(
      `<rect x="${n(l.x)}" y="${n(l.y)}" width="${n(l.width)}" height="${n(l.height)}"/>`,
      `<text x="${n(l.x)}" y="${n(l.y + l.height - 3)}">${xml(l.text)}</text>`,
    );
  }
  parts.push('</g>');
  return parts.join('');
}

/**
 * The chart as a standalone SVG document (its style inline, no fonts or scripts fetched): states as
 * rounded boxes (`<g class="state" data-state="active.run.running">`), containers with a title bar,
 * parallel states dashed, transitions as arrows with their labels, initial states as dots.
 *
 * @example
 * ```ts
 * const svg = chartSvg(await layoutChart(toDiagram(sandboxMachine)));
 * ```
 */
export function chartSvg(layout: ChartLayout): string {
  const parallel = new Set(layout.states.filter((s) => s.type === 'parallel').map((s) => s.path));
  const w = Math.ceil(layout.width);
  const h = Math.ceil(layout.height);
  const body = [
    ...layout.states.map((s) => stateSvg(s, parallel)),
    ...layout.initials.map(
      (i) =>
        `<circle class="initial" data-initial="${xml(i.path)}" cx="${n(i.x + INITIAL_D / 2)}" cy="${n(i.y + INITIAL_D / 2)}" r="${INITIAL_D / 2}"/>`,
    ),
    ...layout.edges.map(edgeSvg),
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="vmactor-chart" data-machine="${xml(layout.machine)}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">`,
    `<!-- ${xml(layout.machine)} machine. Generated from machines/ by scripts/gen-visualizations.ts (elkjs layout); do not edit. -->`,
    `<style>${STYLE}</style>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#718096"/></marker></defs>',
    `<rect width="${w}" height="${h}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
