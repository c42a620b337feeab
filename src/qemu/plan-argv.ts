// Plan step "argv assembly": the QEMU command line in govmm LaunchQemu's order, devices as their
// builders' JSON (`-device '{...}'`, `-blockdev '{...}'`, ...).
import type { Accelerator, ArchSpec, MachineSpec, MemoryTopology, SmpTopology } from './arch/types.js';
import { deviceArgs } from './devices/index.js';
import type { DeviceContext, QemuDevice } from './devices/types.js';
import { PlanError } from './errors.js';
import { formatOptions } from './escape.js';
import { knobsArgs } from './knobs.js';
import { machineArg } from './machine.js';
import { memoryArg } from './memory.js';
import { type MemoryBackend, memoryBackendArg } from './objects.js';
import type { PlanPaths } from './paths.js';
import type { PlanSpec } from './plan-spec.js';
import { QMP_PATH_CHARDEV } from './plan-types.js';
import { smpArg } from './smp.js';

/** QEMU options a user's hypervisor_params may not set: vmactor supervises and owns them. */
const FORBIDDEN_PARAMS: ReadonlySet<string> = new Set([
  'daemonize',
  'pidfile',
  'qmp',
  'mon',
  'name',
  'uuid',
  'S',
]);

/** What the argv is assembled from: the earlier steps' results. */
export interface ArgvParts {
  readonly spec: PlanSpec;
  readonly arch: ArchSpec;
  readonly machine: MachineSpec;
  readonly accel: Accelerator;
  readonly cpuModel: string;
  readonly ctx: DeviceContext;
  readonly paths: PlanPaths;
  readonly memory: MemoryTopology;
  readonly smp: SmpTopology;
  readonly backend: MemoryBackend | undefined;
  readonly devices: readonly QemuDevice[];
  readonly nvdimm: boolean;
  readonly qmpFd: number | undefined;
}

/**
 * The full argv (argv[0] the binary). The reattach monitor is `-chardev socket,path=...` + `-mon`,
 * not `-qmp unix:<path>`: that legacy syntax takes the path as an implied first value and
 * misparses a path containing `=`; `path=` as a keyed value does not.
 */
export function assembleArgv(p: ArgvParts): string[] {
  const { spec, arch, machine, backend } = p;
  const argv: string[] = [spec.qemuPath ?? arch.qemuBinary];
  argv.push('-name', `sandbox-${spec.id}`);
  if (spec.uuid) argv.push('-uuid', spec.uuid);
  argv.push(
    '-machine',
    machineArg(machine, {
      accel: p.accel,
      nvdimm: p.nvdimm,
      ...(spec.iommu && p.accel === 'kvm' ? { extraOptions: ['kernel_irqchip=split'] } : {}),
      ...(backend && !arch.numa ? { memoryBackend: backend.id } : {}),
      ...(spec.machineAccelerators ? { machineAccelerators: spec.machineAccelerators } : {}),
    }),
  );
  argv.push('-cpu', p.cpuModel);
  if (p.qmpFd !== undefined) {
    argv.push('-chardev', `socket,id=mon0,fd=${p.qmpFd}`, '-mon', 'chardev=mon0,mode=control');
  }
  if (!spec.omit?.reattachMonitor) {
    argv.push(
      '-chardev',
      formatOptions([
        'socket',
        ['id', QMP_PATH_CHARDEV],
        ['path', p.paths.qmpSocket],
        ['server', true],
        ['wait', false],
      ]),
      '-mon',
      `chardev=${QMP_PATH_CHARDEV},mode=control`,
    );
  }
  argv.push('-m', memoryArg(p.memory));
  for (const d of p.devices) argv.push(...deviceArgs(d, p.ctx));
  argv.push('-smp', smpArg(p.smp));
  argv.push('-rtc', 'base=utc,driftfix=slew,clock=host');
  if (spec.arch === 'amd64') argv.push('-global', 'kvm-pit.lost_tick_policy=discard');
  for (const [i, file] of (spec.pflash ?? []).entries()) {
    argv.push(
      '-drive',
      formatOptions([
        'if=pflash',
        ['format', 'raw'],
        ['unit', i],
        i === 0 && ['readonly', true],
        ['file', file],
      ]),
    );
  }
  argv.push('-vga', 'none');
  argv.push(
    ...knobsArgs({
      noUserConfig: true,
      noDefaults: true,
      noGraphic: true,
      mlock: spec.mlock,
      ...(spec.seccompSandbox !== undefined ? { seccompSandbox: spec.seccompSandbox } : {}),
    }),
  );
  if (backend) {
    argv.push('-object', memoryBackendArg(backend));
    if (arch.numa) argv.push('-numa', `node,memdev=${backend.id}`);
  }
  argv.push('-kernel', spec.kernel);
  if (spec.initrd !== undefined) argv.push('-initrd', spec.initrd);
  if (spec.kernelParams !== '') argv.push('-append', spec.kernelParams);
  if (spec.firmware !== undefined) argv.push('-bios', spec.firmware);
  if (spec.template === 'from') argv.push('-incoming', 'defer');
  argv.push('-pidfile', p.paths.pidFile);
  for (const hp of spec.hypervisorParams ?? []) {
    const key = hp.key.replace(/^-+/, '');
    if (FORBIDDEN_PARAMS.has(key)) {
      throw new PlanError(`Expected \`hypervisorParams\` not to set \`${key}\` (vmactor owns it)`);
    }
    argv.push(`-${key}`);
    if (hp.value !== '') argv.push(hp.value);
  }
  return argv;
}
