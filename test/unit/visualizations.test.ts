import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  describe("the generator's --check on a temp copy of the repo", () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    let tmp = '';
    beforeAll(() => {
      tmp = mkdtempSync(join(tmpdir(), 'vmactor-vis-'));
      for (const dir of ['machines', 'visualizations'])
        cpSync(join(root, dir), join(tmp, dir), { recursive: true });
      mkdirSync(join(tmp, 'scripts'));
      for (const f of ['gen-visualizations.ts', 'machine-diagram.ts']) {
        cpSync(join(root, 'scripts', f), join(tmp, 'scripts', f));
      }
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
    });
  });
});
