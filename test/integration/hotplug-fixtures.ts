// Fixtures of the hot-plug tests: a sandbox planned by createSandbox (the default guest under TCG),
// its operation phases, and QMP's view of what was plugged, to compare with the operations' results.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SandboxOperation } from '../../machines/operation.types.js';
import type { OperationEmitted } from '../../machines/sandbox.types.js';
import type { HypervisorConfigInput, SandboxConfig } from '../../src/config/types.js';
import type { QmpClient } from '../../src/qmp/client.js';
import type { CreateSandboxOptions } from '../../src/sandbox/create.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import { guest } from '../helpers/env.js';
import { createTracked, freshId, quietLogger, tempRunBase } from './sandbox-fixtures.js';

/** What a hot-plug test works with. */
export interface HotplugSandbox {
  readonly sb: Sandbox;
  readonly qmp: QmpClient;
  /** Operation phase events, in order. */
  readonly ops: OperationEmitted[];
  /** Ids under /machine/peripheral once the sandbox ran (the planner's devices). */
  readonly coldIds: ReadonlySet<string>;
  /** A 0700 dir for disk images and sockets (short path). */
  readonly dir: string;
  /** Phases of one operation id. */
  phases(id: string): string[];
}

const dirs: string[] = [];
const base = tempRunBase();

/** Removes the files the fixtures made (call in afterAll, after stopAll). */
export function cleanupFiles(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** The run base of the fixtures' sandboxes (for the census check). */
export const runBase = base;

/**
 * Creates (createSandbox, default cloud guest, TCG) and starts a sandbox; with `waitGuest` the
 * guest agent is up before it returns (phase two then waits for the guest).
 */
export async function startSandbox(
  opts: {
    readonly hypervisor?: HypervisorConfigInput;
    readonly devices?: SandboxConfig['devices'];
    readonly guestAgent?: boolean;
    readonly waitGuest?: boolean;
    readonly prefix?: string;
    readonly hotplugDeadlines?: CreateSandboxOptions['hotplugDeadlines'];
  } = {},
): Promise<HotplugSandbox> {
  const g = guest('cloud');
  const dir = mkdtempSync('/tmp/vmactor-hp-');
  dirs.push(dir);
  const config: SandboxConfig = {
    id: freshId(opts.prefix ?? 'hp'),
    hypervisor: {
      kernelPath: g.kernel,
      initrdPath: g.initrd,
      memorySize: 512,
      defaultMaxVCPUs: 4,
      memSlots: 4,
      blockDeviceDriver: 'virtio-blk',
      ...opts.hypervisor,
    },
    ...(opts.devices ? { devices: opts.devices } : {}),
  };
  const sb = await createTracked(config, {
    runDir: base,
    logger: quietLogger,
    accelerator: 'tcg',
    guestAgent: opts.guestAgent ?? false,
    ...(opts.hotplugDeadlines ? { hotplugDeadlines: opts.hotplugDeadlines } : {}),
  });
  const ops: OperationEmitted[] = [];
  sb.actor.on('operation', (e) => ops.push(e));
  await sb.start();
  if (opts.waitGuest) await (await sb.agent()).waitReady({ timeout: 60_000 });
  const qmp = sb.qmp;
  if (!qmp) throw new Error('expected a QMP client on a running sandbox');
  const cold = await qmp.execute('qom-list', { path: '/machine/peripheral' });
  return {
    sb,
    qmp,
    ops,
    dir,
    coldIds: new Set(cold.filter((p) => p.type.startsWith('child<')).map((p) => p.name)),
    phases: (id) => ops.filter((e) => e.id === id).map((e) => e.phase),
  };
}

/** A sparse image file of `mib` MiB in the fixture's dir. */
export function image(h: Pick<HotplugSandbox, 'dir'>, name: string, mib = 1): string {
  const file = join(h.dir, name);
  writeFileSync(file, '');
  truncateSync(file, mib * 1024 * 1024);
  return file;
}

/** The rejection of an operation (throws when it succeeds). */
export async function fails(sb: Sandbox, op: SandboxOperation, id?: string): Promise<unknown> {
  return sb.operate(op, id ? { id } : {}).then(
    () => {
      throw new Error(`expected \`${op.kind}\` to fail`);
    },
    (e: unknown) => e,
  );
}

/** What QEMU has beyond the planner's devices. */
export interface QmpView {
  /** Device ids under /machine/peripheral not on the command line (vCPUs excluded), sorted. */
  readonly devices: string[];
  /** Block nodes named `drive-*`, sorted. */
  readonly blockNodes: string[];
  /** Chardevs named `char-*`, sorted. */
  readonly chardevs: string[];
  /** Memory backends under /objects not on the command line, sorted. */
  readonly objects: string[];
  /** vCPU device ids, sorted. */
  readonly cpus: string[];
}

/** Queries QEMU: qom-list, query-named-block-nodes, query-chardev, query-hotpluggable-cpus. */
export async function qmpView(h: Pick<HotplugSandbox, 'qmp' | 'coldIds'>): Promise<QmpView> {
  const q = h.qmp;
  const periph = await q.execute('qom-list', { path: '/machine/peripheral' });
  const nodes = await q.execute('query-named-block-nodes', { flat: true });
  const chardevs = await q.execute('query-chardev');
  const objects = await q.execute('qom-list', { path: '/objects' });
  const cpus = (await q.execute('query-hotpluggable-cpus'))
    .map((c) => c['qom-path'] ?? '')
    .filter((p) => p.startsWith('/machine/peripheral/'))
    .map((p) => p.slice('/machine/peripheral/'.length));
  return {
    devices: periph
      .filter((p) => p.type.startsWith('child<') && !h.coldIds.has(p.name) && !cpus.includes(p.name))
      .map((p) => p.name)
      .sort(),
    blockNodes: nodes
      .map((n) => n['node-name'] ?? '')
      .filter((n) => n.startsWith('drive-'))
      .sort(),
    chardevs: chardevs
      .map((c) => c.label)
      .filter((l) => l.startsWith('char-'))
      .sort(),
    objects: objects
      .filter((o) => o.type.startsWith('child<memory-backend') && !/^(dimm1|pc\.ram|mem0)$/.test(o.name))
      .map((o) => o.name)
      .sort(),
    cpus: cpus.sort(),
  };
}

/** Where QEMU put a device: its parent bus (`qom-get parent_bus`) and PCI slot (`addr` >> 3). */
export async function placementOf(
  h: Pick<HotplugSandbox, 'qmp'>,
  id: string,
): Promise<{ bus: string; slot?: number }> {
  const bus = String(await h.qmp.execute('qom-get', { path: id, property: 'parent_bus' }));
  const props = await h.qmp.execute('qom-list', { path: id });
  const hasAddr = props.some((p) => p.name === 'addr');
  const addr = hasAddr ? Number(await h.qmp.execute('qom-get', { path: id, property: 'addr' })) : undefined;
  return { bus: bus.split('/').pop() ?? bus, ...(addr !== undefined ? { slot: addr >> 3 } : {}) };
}
