// Regenerates visualizations/<machine>.mmd and .svg from every machine in machines/index.ts (the SVG laid out by elkjs).
// `npm run gen:visualizations` writes them; `--check` only reports drift (exit 1), like the unit test.

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machines } from '../machines/index.js';
import { renderMachine } from '../src/inspect/chart.js';

const dir = fileURLToPath(new URL('../visualizations/', import.meta.url));
const check = process.argv.includes('--check');
let drift = false;

for (const [name, machine] of Object.entries(machines).sort(([a], [b]) => a.localeCompare(b))) {
  const rendered = await renderMachine(machine);
  for (const [ext, text] of Object.entries(rendered)) {
    const file = `${dir}${name}.${ext}`;
    let current: string | undefined;
    try {
      current = readFileSync(file, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === text) continue;
    if (check) {
      drift = true;
      console.error(
        `drift: visualizations/${name}.${ext} differs from machines/ (run npm run gen:visualizations)`,
      );
    } else {
      writeFileSync(file, text);
      console.log(`wrote visualizations/${name}.${ext}`);
    }
  }
}
if (drift) process.exitCode = 1;
