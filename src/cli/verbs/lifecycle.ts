// Client verbs for sandboxes: ps, create, start, pause, resume, stop, rm.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseKataToml } from '../../config/kata-toml.js';
import type { SandboxConfig } from '../../config/types.js';
import type { SandboxSummary } from '../../supervisor/supervisor.js';
import { call } from './client.js';
import { EXIT, parseVerb, printJson, printTable, runVerb, UsageError } from './common.js';

const OPTS = '[--socket PATH] [--json]';

function row(s: SandboxSummary): string[] {
  return [
    s.id,
    s.phase + (s.stopReason ? ` (${s.stopReason})` : ''),
    s.qemuPid === null ? '-' : String(s.qemuPid),
    String(s.vcpus),
    `${s.memoryMiB} MiB`,
    s.devices.map((d) => d.id).join(',') || '-',
  ];
}

/** `vmactor ps`: every sandbox of the service. */
export function ps(argv: readonly string[]): Promise<number> {
  const usage = `usage: vmactor ps ${OPTS}\n\nLists the service's sandboxes: id, phase, QEMU pid, vCPUs, memory, devices.\n`;
  return runVerb('ps', usage, async () => {
    const a = parseVerb(argv, usage);
    if (!a) return EXIT.ok;
    const list = await call<SandboxSummary[]>(a.socket, 'GET', '/sandboxes');
    if (a.json) printJson(list);
    else printTable(['ID', 'PHASE', 'QEMU PID', 'VCPUS', 'MEMORY', 'DEVICES'], list.map(row));
    return EXIT.ok;
  });
}

/** A config file as the request body: vmactor JSON as is, Kata TOML converted (as `plan` reads it). */
async function readConfig(file: string, id: string | undefined): Promise<SandboxConfig> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`Cannot read \`${file}\`: ${err.code ?? err.message}`);
  });
  if (file.endsWith('.toml') || !text.trimStart().startsWith('{')) {
    const { config, ignoredKeys } = parseKataToml(text, { id: id ?? 'kata', source: basename(file) });
    for (const w of ignoredKeys)
      process.stderr.write(`vmactor create: ${basename(file)}: ${JSON.stringify(w)}\n`);
    return config;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`\`${file}\` is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`Expected \`${file}\` to hold a JSON object`);
  }
  return (id === undefined ? parsed : { ...parsed, id }) as SandboxConfig;
}

/** `vmactor create --config FILE [--id ID] [--start]`. */
export function create(argv: readonly string[]): Promise<number> {
  const usage = `usage: vmactor create (--config FILE | --id ID) [--id ID] [--template NAME] [--start] ${OPTS}

Creates a sandbox from FILE (a vmactor JSON config or a Kata configuration-qemu.toml); the service
adds its default guest when the config names no kernel. --template boots it from that saved
template (vmactor template ls). --start also starts it.
`;
  return runVerb('create', usage, async () => {
    const a = parseVerb(argv, usage, {
      config: { type: 'string' },
      id: { type: 'string' },
      template: { type: 'string' },
      start: { type: 'boolean' },
    });
    if (!a) return EXIT.ok;
    const file = a.values.config as string | undefined;
    const id = a.values.id as string | undefined;
    if (file === undefined && id === undefined) throw new UsageError('Expected `--config FILE` or `--id ID`');
    const config = file === undefined ? { id: id as string } : await readConfig(file, id);
    const template = a.values.template as string | undefined;
    const query = template === undefined ? '' : `?template=${encodeURIComponent(template)}`;
    let s = await call<SandboxSummary>(a.socket, 'POST', `/sandboxes${query}`, config);
    if (a.values.start) s = await call<SandboxSummary>(a.socket, 'POST', `/sandboxes/${s.id}/start`);
    if (a.json) printJson(s);
    else process.stdout.write(`${s.id}\n`);
    return EXIT.ok;
  });
}

/** The one-sandbox verbs that POST an action and print the sandbox. */
function action(name: 'start' | 'pause' | 'resume' | 'stop', what: string) {
  return (argv: readonly string[]): Promise<number> => {
    const usage = `usage: vmactor ${name} ID ${OPTS}\n\n${what}\n`;
    return runVerb(name, usage, async () => {
      const a = parseVerb(argv, usage, {}, { min: 1, max: 1 });
      if (!a) return EXIT.ok;
      const id = a.positionals[0] as string;
      const s = await call<SandboxSummary>(a.socket, 'POST', `/sandboxes/${encodeURIComponent(id)}/${name}`);
      if (a.json) printJson(s);
      else process.stdout.write(`${s.id}: ${s.phase}${s.stopReason ? ` (${s.stopReason})` : ''}\n`);
      return EXIT.ok;
    });
  };
}

/** `vmactor start ID`. */
export const start = action('start', 'Starts the sandbox; returns once it runs.');
/** `vmactor pause ID`. */
export const pause = action('pause', 'Pauses the VM (QMP stop).');
/** `vmactor resume ID`. */
export const resume = action('resume', 'Resumes the VM (QMP cont).');
/** `vmactor stop ID`. */
export const stop = action(
  'stop',
  'Stops the sandbox (QMP quit, then SIGTERM, SIGKILL); it stays listed until rm.',
);

/** `vmactor rm ID`: stop (if needed) and remove. */
export function rm(argv: readonly string[]): Promise<number> {
  const usage = `usage: vmactor rm ID ${OPTS}\n\nStops the sandbox if it runs and removes it (its run dir is gone).\n`;
  return runVerb('rm', usage, async () => {
    const a = parseVerb(argv, usage, {}, { min: 1, max: 1 });
    if (!a) return EXIT.ok;
    const id = a.positionals[0] as string;
    const r = await call(a.socket, 'DELETE', `/sandboxes/${encodeURIComponent(id)}`);
    if (a.json) printJson(r);
    else process.stdout.write(`${id}: removed\n`);
    return EXIT.ok;
  });
}
