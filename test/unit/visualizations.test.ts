import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { machines } from '../../machines/index.js';
import { renderMachine, toDiagram, toMermaid, toSvg } from '../../scripts/machine-diagram.js';

const dir = new URL('../../visualizations/', import.meta.url);

function committed(name: string): string | undefined {
  try {
    return readFileSync(new URL(name, dir), 'utf8');
  } catch {
    return undefined;
  }
}

describe('visualizations', () => {
  for (const [name, machine] of Object.entries(machines)) {
    const rendered = renderMachine(machine);

    it(`visualizations/${name}.mmd matches the ${name} machine definition (run npm run gen:visualizations)`, () => {
      expect(committed(`${name}.mmd`)).toBe(rendered.mmd);
    });

    it(`visualizations/${name}.svg matches the ${name} machine definition (run npm run gen:visualizations)`, () => {
      expect(committed(`${name}.svg`)).toBe(rendered.svg);
    });

    it(`rendering the ${name} machine twice gives identical bytes`, () => {
      const again = renderMachine(machine);
      expect(again.mmd).toBe(rendered.mmd);
      expect(again.svg).toBe(rendered.svg);
    });

    it(`every transition of the ${name} machine appears in the mermaid text`, () => {
      const d = toDiagram(machine);
      const mmd = toMermaid(d);
      expect(mmd.startsWith('stateDiagram-v2\n')).toBe(true);
      for (const e of d.edges) expect(mmd).toContain(e.label.replace(/[:;]/g, ' '));
      for (const s of d.states.values())
        for (const t of s.internal) expect(mmd).toContain(t.replace(/[:;]/g, ' '));
    });

    it(`every state and transition label of the ${name} machine appears in the SVG`, () => {
      const d = toDiagram(machine);
      const svg = toSvg(d);
      const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
      for (const s of d.states.values()) expect(svg).toContain(`>${xml(s.key)}</text>`);
      for (const e of d.edges) expect(svg).toContain(`>${xml(e.label)}</text>`);
      expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    });
  }

  it('a changed machine definition is reported as drift', () => {
    const { sandbox } = machines;
    const changed = sandbox.provide({});
    // Same definition with provided implementations renders the same…
    expect(renderMachine(changed).mmd).toBe(renderMachine(sandbox).mmd);
    // …while a definition with one more transition does not.
    const extra = toMermaid(toDiagram(sandbox)).replace(
      'created --> starting : START',
      'created --> active : START',
    );
    expect(extra).not.toBe(committed('sandbox.mmd'));
  });
});
