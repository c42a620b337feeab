// A machine's charts: the mermaid text and the elkjs-laid-out SVG (what visualizations/ holds and the inspector page shows).
import type { AnyStateMachine } from 'xstate';
import { layoutChart } from './chart-layout.js';
import { toMermaid } from './chart-mermaid.js';
import { toDiagram } from './chart-model.js';
import { chartSvg } from './chart-svg.js';

/** Both renderings of a machine, as the bytes written under visualizations/. */
export interface RenderedMachine {
  readonly mmd: string;
  readonly svg: string;
}

/**
 * Renders a machine definition: `stateDiagram-v2` text and an SVG laid out by elkjs.
 *
 * @example
 * ```ts
 * const { mmd, svg } = await renderMachine(sandboxMachine);
 * ```
 */
export async function renderMachine(machine: AnyStateMachine): Promise<RenderedMachine> {
  const d = toDiagram(machine);
  return { mmd: toMermaid(d), svg: chartSvg(await layoutChart(d)) };
}
