import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import type { SandboxConfig } from '../../src/config/types.js';
import { validateConfig } from '../../src/config/validate.js';
import { VmactorError } from '../../src/errors/vmactor-error.js';
import type { Arch } from '../../src/qemu/arch/types.js';
import { planQemu, type QemuPlan } from '../../src/qemu/plan.js';
import { descendants } from '../helpers/census.js';
import { guest, hostBinary } from '../helpers/env.js';
import { launchWithQmp, startVirtiofsd, syntheticGuest } from '../integration/qemu-plan-harness.js';
import { verifyPlanViaQmp } from '../integration/qemu-plan-verify.js';

const HOST = { hostCpus: 4, hostMemoryMiB: 4096 };
const BINARIES: Record<Arch, string> = {
  amd64: 'qemu-system-x86_64',
  arm64: 'qemu-system-aarch64',
  ppc64le: 'qemu-system-ppc64',
  s390x: 'qemu-system-s390x',
};
/** Launches per run of the acceptance property (CI bound). */
const LAUNCHES = 15;

const root = mkdtempSync(join(tmpdir(), 'vmp-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
// Every QEMU and virtiofsd a test started is gone when it ends (killed by PID and reaped).
afterEach(() => expect(descendants()).toEqual([]));

/** Names made of the characters QEMU option strings and FUSE options treat specially. */
const awkwardName = fc
  .string({
    unit: fc.constantFrom('a', 'b', 'z', '0', '-', '_', ',', '=', ' ', "'", '"'),
    minLength: 1,
    maxLength: 8,
  })
  .map((s) => `f${s}`);

interface Shape {
  arch: Arch;
  machine: string | undefined;
  memorySize: number;
  numVCPUs: number;
  defaultMaxVCPUs: number;
  defaultBridges: number;
  blockDeviceDriver: string;
  sharedFS: string;
  enableIOThreads: boolean;
  memPrealloc: boolean;
  pcieRootPort: number;
  disks: string[];
  share: string | undefined;
  runDirName: string;
}

const shape: fc.Arbitrary<Shape> = fc.record({
  arch: fc.constantFrom<Arch>('amd64', 'amd64', 'amd64', 'arm64', 'ppc64le', 's390x'),
  // Mostly valid values, with a tenth of each field invalid or mismatched (e.g. q35 on s390x).
  machine: fc.oneof(
    { weight: 9, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom('q35', 'pc', 'virt', 'pseries', 's390-ccw-virtio', 'isapc') },
  ),
  memorySize: fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom(256, 512) },
    { weight: 1, arbitrary: fc.constant(128) },
  ),
  numVCPUs: fc.oneof(
    { weight: 9, arbitrary: fc.integer({ min: 1, max: 2 }) },
    { weight: 1, arbitrary: fc.constant(0) },
  ),
  defaultMaxVCPUs: fc.oneof(
    { weight: 9, arbitrary: fc.integer({ min: 2, max: 4 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 1 }) },
  ),
  defaultBridges: fc.oneof(
    { weight: 9, arbitrary: fc.integer({ min: 0, max: 5 }) },
    { weight: 1, arbitrary: fc.constant(6) },
  ),
  blockDeviceDriver: fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom('virtio-scsi', 'virtio-blk') },
    { weight: 1, arbitrary: fc.constantFrom('virtio-blk-ccw', 'nvdimm', 'floppy') },
  ),
  sharedFS: fc.constantFrom('virtio-9p', 'virtio-fs', 'none'),
  enableIOThreads: fc.boolean(),
  memPrealloc: fc.boolean(),
  pcieRootPort: fc.oneof(
    { weight: 9, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 }) },
  ),
  disks: fc.uniqueArray(awkwardName, { maxLength: 3 }),
  share: fc.option(awkwardName, { nil: undefined }),
  runDirName: awkwardName,
});

let caseNo = 0;

/** Builds the config and creates its files (disks 1 MiB, the shared dir) under a fresh dir. */
function materialize(s: Shape): { config: SandboxConfig; dir: string; runDir: string } {
  const dir = join(root, String(caseNo++));
  const runDir = join(dir, s.runDirName);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const g = (s.arch === 'amd64' ? guest() : undefined) ?? syntheticGuest(s.arch, dir);
  const devices: NonNullable<SandboxConfig['devices']>[number][] = s.disks.map((name, i) => {
    const file = join(dir, `${name}.img`);
    writeFileSync(file, Buffer.alloc(1024 * 1024));
    return { kind: 'block' as const, id: `disk${i}`, file };
  });
  if (s.share !== undefined) {
    const shared = join(dir, s.share);
    mkdirSync(shared, { recursive: true });
    devices.push(
      s.sharedFS === 'virtio-fs'
        ? { kind: 'fs', type: 'virtio-fs', id: 'fs0', tag: 'kataShared', sharedDir: shared }
        : { kind: 'fs', type: 'virtio-9p', id: 'fs0', tag: s.share, path: shared },
    );
  }
  const config = {
    id: `p${caseNo}`,
    hypervisor: {
      arch: s.arch,
      ...(s.machine !== undefined ? { hypervisorMachineType: s.machine } : {}),
      kernelPath: g.kernel,
      initrdPath: g.initrd,
      memorySize: s.memorySize,
      numVCPUs: s.numVCPUs,
      defaultMaxVCPUs: s.defaultMaxVCPUs,
      defaultBridges: s.defaultBridges,
      blockDeviceDriver: s.blockDeviceDriver,
      sharedFS: s.sharedFS,
      enableIOThreads: s.enableIOThreads,
      memPrealloc: s.memPrealloc,
      pcieRootPort: s.pcieRootPort,
    },
    devices,
  } as unknown as SandboxConfig;
  return { config, dir, runDir };
}

type Outcome =
  | { kind: 'config-error' }
  | { kind: 'plan-error'; code: string }
  | { kind: 'plan'; plan: QemuPlan };

function tryPlan(config: SandboxConfig, runDir: string): Outcome {
  let validated: ReturnType<typeof validateConfig>;
  try {
    validated = validateConfig(config, HOST);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    if (process.env.DEBUG_PLAN_PROPERTY) console.log((e as ConfigError).issues);
    return { kind: 'config-error' };
  }
  try {
    const plan = planQemu(validated, {
      runDir,
      qmpFd: 3,
      ...HOST,
      sizeOf: (p) => (existsSync(p) ? statSync(p).size : undefined),
    });
    return { kind: 'plan', plan };
  } catch (e) {
    // Anything else must be a typed error raised before launch.
    expect(e).toBeInstanceOf(VmactorError);
    if (process.env.DEBUG_PLAN_PROPERTY) console.log('PLAN-ERROR', (e as Error).message);
    return { kind: 'plan-error', code: (e as VmactorError).code };
  }
}

// Every arch's QEMU binary is required (throws when missing).
for (const b of Object.values(BINARIES)) hostBinary(b);

describe('any generated sandbox config', () => {
  it('is refused with a typed error or planned, never anything else (pure, many runs)', () => {
    const seen = new Map<string, number>();
    fc.assert(
      fc.property(shape, (s) => {
        const { config, runDir } = materialize(s);
        const r = tryPlan(config, runDir);
        const key = r.kind === 'plan-error' ? r.code : r.kind;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }),
      { numRuns: 150 },
    );
    console.log(Object.fromEntries(seen));
    expect(seen.get('plan') ?? 0).toBeGreaterThan(0);
    expect(seen.get('config-error') ?? 0).toBeGreaterThan(0);
  });

  it(`either fails validation with ConfigError or runs on real QEMU with awkward paths intact (≤ ${LAUNCHES} launches)`, async () => {
    let launches = 0;
    await fc.assert(
      fc.asyncProperty(shape, async (s) => {
        const { config, runDir } = materialize(s);
        const r = tryPlan(config, runDir);
        if (r.kind !== 'plan' || launches >= LAUNCHES) return;
        launches++;
        const fsd = await startVirtiofsd(r.plan);
        try {
          const q = await launchWithQmp(r.plan.argv);
          try {
            // Block files, chardev socket paths (the run dir name is awkward too) and tags, as QMP sees them.
            expect(await verifyPlanViaQmp(q.qmp, r.plan)).toBeGreaterThan(0);
          } finally {
            await q.kill();
          }
        } finally {
          await fsd?.kill();
        }
      }),
      { numRuns: LAUNCHES * 4, endOnFailure: true },
    );
    expect(launches).toBeGreaterThan(0);
    expect(launches).toBeLessThanOrEqual(LAUNCHES);
  }, 180_000);
});
