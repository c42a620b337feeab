import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { machines } from '../../machines/index.js';
import { renderMachine } from '../../src/inspect/chart.js';
import { layoutChart } from '../../src/inspect/chart-layout.js';
import { toMermaid } from '../../src/inspect/chart-mermaid.js';
import { toDiagram } from '../../src/inspect/chart-model.js';
import { chartSvg } from '../../src/inspect/chart-svg.js';

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
    it(`visualizations/${name}.mmd and .svg match the ${name} machine definition (run npm run gen:visualizations)`, async () => {
      const rendered = await renderMachine(machine);
      expect(committed(`${name}.mmd`)).toBe(rendered.mmd);
      expect(committed(`${name}.svg`)).toBe(rendered.svg);
    });

    it(`rendering the ${name} machine twice gives identical bytes`, async () => {
      const [a, b] = await Promise.all([renderMachine(machine), renderMachine(machine)]);
      expect(b.mmd).toBe(a.mmd);
      expect(b.svg).toBe(a.svg);
    });

    it(`every transition of the ${name} machine appears in the mermaid text`, () => {
      const d = toDiagram(machine);
      const mmd = toMermaid(d);
      expect(mmd.startsWith('stateDiagram-v2\n')).toBe(true);
      for (const e of d.edges) expect(mmd).toContain(e.label.replace(/[:;]/g, ' '));
      for (const s of d.states.values())
        for (const t of s.internal) expect(mmd).toContain(t.replace(/[:;]/g, ' '));
    });

    it(`every state of the ${name} machine is a box of the elkjs layout, inside its parent, and every transition is drawn`, async () => {
      const d = toDiagram(machine);
      const layout = await layoutChart(d);
      const svg = chartSvg(layout);
      const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
      const byPath = new Map(layout.states.map((s) => [s.path, s]));
      for (const s of d.states.values()) {
        const path = s.id === d.root.id ? '' : s.id.slice(d.id.length + 1);
        const placed = byPath.get(path);
        expect(placed, path).toBeDefined();
        expect(svg).toContain(`data-state="${xml(path)}"`);
        const parentPath =
          s.parent === undefined ? undefined : s.parent === d.root.id ? '' : s.parent.slice(d.id.length + 1);
        const parent = parentPath === undefined ? undefined : byPath.get(parentPath);
        if (placed && parent) {
          expect(placed.x).toBeGreaterThanOrEqual(parent.x);
          expect(placed.y).toBeGreaterThanOrEqual(parent.y);
          expect(placed.x + placed.width).toBeLessThanOrEqual(parent.x + parent.width);
          expect(placed.y + placed.height).toBeLessThanOrEqual(parent.y + parent.height);
        }
      }
      for (const e of d.edges) expect(svg).toContain(`>${xml(e.label)}`);
      expect(layout.edges.filter((e) => !e.initial)).toHaveLength(d.edges.length);
      expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    });
  }

  describe("the generator's --check on a temp copy of the repo", () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    let tmp = '';
    beforeAll(() => {
      tmp = mkdtempSync(join(tmpdir(), 'vmactor-vis-'));
      for (const dir of ['machines', 'visualizations'])
        cpSync(join(root, dir), join(tmp, dir), { recursive: true });
      mkdirSync(join(tmp, 'scripts'));
      cpSync(join(root, 'scripts', 'gen-visualizations.ts'), join(tmp, 'scripts', 'gen-visualizations.ts'));
      mkdirSync(join(tmp, 'src', 'inspect'), { recursive: true });
      for (const f of ['chart.ts', 'chart-layout.ts', 'chart-mermaid.ts', 'chart-model.ts', 'chart-svg.ts'])
        cpSync(join(root, 'src', 'inspect', f), join(tmp, 'src', 'inspect', f));
      cpSync(join(root, 'package.json'), join(tmp, 'package.json'));
      symlinkSync(join(root, 'node_modules'), join(tmp, 'node_modules'));
    });
    afterAll(() => rmSync(tmp, { recursive: true, force: true }));

    /** Runs `tsx scripts/gen-visualizations.ts --check` in the copy. */
    function check(): { status: number | null; stderr: string } {
      const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
      const r = spawnSync(process.execPath, [tsx, 'scripts/gen-visualizations.ts', '--check'], {
        cwd: tmp,
        encoding: 'utf8',
        timeout: 60_000,
      });
      return { status: r.status, stderr: r.stderr };
    }

    it('passes on the unchanged copy, and fails naming both files once a transition of the machine changes', () => {
      expect(check()).toEqual({ status: 0, stderr: '' });
      const file = join(tmp, 'machines', 'sandbox.machine.ts');
      const source = readFileSync(file, 'utf8');
      const from = "START: { target: 'starting' }";
      expect(source.split(from)).toHaveLength(2);
      writeFileSync(file, source.replace(from, "START: { target: 'stopped' }"));
      const drift = check();
      expect(drift.status).toBe(1);
      expect(drift.stderr).toContain('drift: visualizations/sandbox.mmd differs from machines/');
      expect(drift.stderr).toContain('drift: visualizations/sandbox.svg differs from machines/');
      // --check never writes: the committed files in the copy are untouched.
      expect(readFileSync(join(tmp, 'visualizations', 'sandbox.mmd'), 'utf8')).toBe(committed('sandbox.mmd'));
      writeFileSync(file, source);
      expect(check()).toEqual({ status: 0, stderr: '' });
    });

    it('fails naming the supervisor files once a state is added to the supervisor machine, and only them', () => {
      const file = join(tmp, 'machines', 'supervisor.machine.ts');
      const source = readFileSync(file, 'utf8');
      const from = 'states: {';
      expect(source).toContain(from);
      writeFileSync(
        file,
        source.replace(from, `${from}\n    extra: { on: { FORGET: { target: 'closed' } } },`),
      );
      const drift = check();
      writeFileSync(file, source);
      expect(drift.status).toBe(1);
      expect(drift.stderr.trim().split('\n').sort()).toEqual([
        'drift: visualizations/supervisor.mmd differs from machines/ (run npm run gen:visualizations)',
        'drift: visualizations/supervisor.svg differs from machines/ (run npm run gen:visualizations)',
      ]);
    });
  });
});
