// The live schema check is never switched off for real QEMU: only the fake-peer tests (which
// serve no `query-qmp-schema`) pass `schemaCheck: false`, and src/ never decides it per call site.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const FAKE_PEER_FILES = ['test/faults/qmp-fake-peer.test.ts', 'test/property/qmp-stream.test.ts'];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (/\.(ts|mts|js|mjs)$/.test(e.name)) out.push(p);
  }
  return out;
}

const SELF = 'test/unit/qmp-schema-switch.test.ts';
// Every source file but src/qmp (which defines and documents the option) and this one.
const files = ['src', 'test', 'scripts', 'machines', 'bin']
  .flatMap(sources)
  .filter((f) => !f.startsWith('src/qmp/') && f !== SELF);

describe('the schema check switch', () => {
  it('Only the fake-peer tests turn the schema check off, and each of them does', () => {
    const off = files.filter((f) => /schemaCheck:\s*false/.test(readFileSync(join(root, f), 'utf8')));
    expect(off.sort()).toEqual([...FAKE_PEER_FILES].sort());
  });

  it('No code outside src/qmp chooses schemaCheck or sets VMACTOR_QMP_SCHEMA_CHECK', () => {
    const outside = files.filter(
      (f) =>
        !FAKE_PEER_FILES.includes(f) &&
        !f.startsWith('test/integration/qmp-') &&
        !f.startsWith('test/unit/qmp-') &&
        !f.startsWith('test/setup/') &&
        /schemaCheck\s*:|VMACTOR_QMP_SCHEMA_CHECK\s*=/.test(readFileSync(join(root, f), 'utf8')),
    );
    expect(outside).toEqual([]);
    expect(files.length).toBeGreaterThan(100);
  });
});
