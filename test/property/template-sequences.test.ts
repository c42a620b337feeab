// Model-based property test: random sequences of template save / clone / pause / resume / stop / SIGKILL of a clone,
// against real QEMU and the default guest. After every sequence: no process, no mount, no run dir is left, and every
// template dir still holds its three files.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxConfig } from '../../src/config/types.js';
import { createSandbox } from '../../src/sandbox/create.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import type { Template } from '../../src/sandbox/template/template-file.js';
import { descendants, leftovers } from '../helpers/census.js';
import { guest } from '../helpers/env.js';
import { freshId, quietLogger, tempRunBase } from '../integration/sandbox-fixtures.js';

const RUNS = Number(process.env.VMACTOR_TEMPLATE_PROPERTY_RUNS ?? 4);
const MAX_CLONES = 3;

const g = guest('cloud');
const hv = { kernelPath: g.kernel, initrdPath: g.initrd, memorySize: 256, defaultMaxVCPUs: 2 } as const;
const base = tempRunBase();
const shm = mkdtempSync('/dev/shm/vmactor-prop-tpl-');

function cfg(id: string, extra: SandboxConfig['hypervisor'] = {}): SandboxConfig {
  return { id, hypervisor: { ...hv, ...extra } };
}
const opts = { runDir: base, logger: quietLogger, accelerator: 'tcg' as const };

interface Model {
  clones: ('running' | 'paused')[];
  saved: number;
}

interface Real {
  template: Template;
  readonly clones: Sandbox[];
  readonly templates: Template[];
}

async function saveNewTemplate(): Promise<Template> {
  const dir = mkdtempSync(`${shm}/t-`);
  const tpl = await createSandbox(cfg(freshId('ptpl'), { bootToBeTemplate: true }), {
    ...opts,
    templateDir: dir,
  });
  try {
    await tpl.start();
    await (await tpl.agent()).waitReady({ timeout: 60_000 });
    return await tpl.saveTemplate(dir);
  } finally {
    await tpl.stop();
  }
}

/** Mount points under the run base or the template dirs (a tmpfs someone forgot). */
function ourMounts(): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(base) || m.startsWith(shm));
}

const at = (i: number, n: number) => i % n;

class Clone implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => m.clones.length < MAX_CLONES;
  async run(m: Model, r: Real) {
    const sb = await createSandbox(cfg(freshId('pc')), { ...opts, template: r.template });
    const incoming: string[] = [];
    sb.events$.subscribe((e) => {
      if (e.type === 'migration') incoming.push(e.status);
    });
    r.clones.push(sb);
    m.clones.push('running');
    await sb.start();
    expect(incoming.at(-1)).toBe('completed');
    expect(await (await sb.agent()).request('ping', [])).toMatchObject({ pong: true });
  }
  toString = () => 'clone';
}

class Toggle implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly to: 'paused' | 'running',
    readonly i: number,
  ) {}
  check = (m: Readonly<Model>) => m.clones.length > 0;
  async run(m: Model, r: Real) {
    const k = at(this.i, m.clones.length);
    const sb = r.clones[k] as Sandbox;
    if (this.to === 'paused') await sb.pause();
    else await sb.resume();
    m.clones[k] = this.to;
    expect(sb.phase).toBe(this.to);
  }
  toString = () => `${this.to === 'paused' ? 'pause' : 'resume'} clone ${this.i}`;
}

class End implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly how: 'stop' | 'SIGKILL',
    readonly i: number,
  ) {}
  check = (m: Readonly<Model>) => m.clones.length > 0;
  async run(m: Model, r: Real) {
    const k = at(this.i, m.clones.length);
    const sb = r.clones[k] as Sandbox;
    if (this.how === 'SIGKILL') process.kill(sb.getPids()[0] as number, 'SIGKILL');
    const out = this.how === 'stop' ? await sb.stop() : await sb.stopped;
    expect(out.stopReason).toBe(this.how === 'stop' ? 'requested' : 'crashed');
    r.clones.splice(k, 1);
    m.clones.splice(k, 1);
  }
  toString = () => `${this.how} clone ${this.i}`;
}

class Save implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => m.saved < 1;
  async run(m: Model, r: Real) {
    const t = await saveNewTemplate();
    r.templates.push(t);
    r.template = t;
    m.saved += 1;
  }
  toString = () => 'save a new template';
}

const idx = fc.nat(MAX_CLONES - 1);
const commands = [
  fc.constant(new Clone()),
  fc.constant(new Clone()),
  idx.map((i) => new Toggle('paused', i)),
  idx.map((i) => new Toggle('running', i)),
  idx.map((i) => new End('stop', i)),
  idx.map((i) => new End('SIGKILL', i)),
  fc.constant(new Save()),
];

describe('random template sequences against real QEMU and the default guest', () => {
  let first: Template;
  beforeAll(async () => {
    first = await saveNewTemplate();
  }, 120_000);
  afterAll(() => {
    rmSync(base, { recursive: true, force: true });
    rmSync(shm, { recursive: true, force: true });
  });

  it(`leave no process, mount or run dir behind over ${RUNS} sequences`, async () => {
    const templates: Template[] = [first];
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 8 }), async (cmds) => {
        const real: Real = { template: first, clones: [], templates };
        const model: Model = { clones: [], saved: 0 };
        try {
          await fc.asyncModelRun(() => ({ model, real }), cmds);
        } finally {
          await Promise.all(real.clones.map((c) => c.stop()));
        }
        expect(descendants()).toEqual([]);
        expect(leftovers(base)).toEqual([]);
        expect(ourMounts()).toEqual([]);
        for (const t of templates)
          expect(leftovers(t.dir).sort()).toEqual(['devices.state', 'memory', 'template.json']);
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
  }, 900_000);
});
