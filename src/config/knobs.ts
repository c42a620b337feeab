// THE hypervisor knob table: per field its zod type, its default, its Kata TOML key and a one-line doc.
//
// `HypervisorConfig` (types.ts), the defaults `validateConfig` applies, `HYPERVISOR_KEYS`, the
// JSON Schema of `hypervisor`, and the Kata TOML loader's key map (kata-toml.ts) all derive from
// this table. Adding a knob = one row here (+ its use in src/qemu's plan). Cross-field rules
// (image vs initrd, vCPU limits, templates) are in assets.ts, numbers.ts, machine.ts, templates.ts.
import type { z } from 'zod';
import { ARCHES, type Arch } from '../devices/rules.js';
import { BLOCK_DRIVERS } from '../devices/spec.js';
import {
  ARCH_DEFAULTS,
  type ArchDefaults,
  DEFAULT_BLOCK_DRIVER,
  DEFAULT_BRIDGES,
  DEFAULT_ENTROPY_SOURCE,
  DEFAULT_MEM_SLOTS,
  DEFAULT_MEMORY_MIB,
  DEFAULT_MSIZE_9P,
  DEFAULT_SHARED_FS,
  DEFAULT_VCPUS,
  DEFAULT_VIRTIOFS_CACHE,
  DEFAULT_VIRTIOFS_CACHE_SIZE,
  DEFAULT_VIRTIOFS_DAEMON,
  MAX_BRIDGES,
  SHARED_FS_KINDS,
  VIRTIOFS_CACHE_MODES,
} from './defaults.js';
import { deserializeParams } from './kernel-params.js';
import { absPath, bool, command, oneOf, paramsSchema, pattern, text, textList, uint } from './knob-types.js';

/** What a function default may read: the arch, host facts, fallback assets, other knobs' resolved values. */
export interface KnobFacts {
  readonly arch: Arch;
  readonly archDefaults: ArchDefaults;
  readonly hostCpus: number;
  readonly assets: {
    readonly kernelPath?: string;
    readonly initrdPath?: string;
    readonly imagePath?: string;
  };
  /** The resolved value of another knob (given, else its default). */
  get(key: string): unknown;
}

/** What the Kata loader may do to a raw TOML value (Kata's own loader adjustments), with why. */
export type KataAdjust = (
  raw: unknown,
  host: { readonly hostCpus: number; readonly arch: Arch | undefined },
) => { readonly value: unknown; readonly reason?: string };

/** One knob: its type, default, Kata key and doc. */
export interface Knob<S extends z.ZodType = z.ZodType> {
  readonly schema: S;
  /** A value, or a function of the arch/host facts; absent only for `optional` knobs. */
  readonly default?: z.output<S> | ((facts: KnobFacts) => z.output<S>);
  /** 0 / '' mean "unset" and take the default (Kata's `valid()`). */
  readonly zeroIsUnset?: true;
  /** No default: the field stays absent unless given. */
  readonly optional?: true;
  /** Kata `[hypervisor.qemu]` key. */
  readonly kata?: string;
  /** Kata's loader adjustment of the TOML value (clamps, `-1` = all CPUs). */
  readonly kataAdjust?: KataAdjust;
  /** One line for docs and the JSON Schema's `description`. */
  readonly doc: string;
}

function knob<S extends z.ZodType>(schema: S, row: Omit<Knob<S>, 'schema' | 'optional'>): Knob<S> {
  return { schema, ...row };
}

function optionalKnob<S extends z.ZodType>(
  schema: S,
  row: Omit<Knob<S>, 'schema' | 'default' | 'optional'>,
): Knob<S> & { readonly optional: true } {
  return { schema, ...row, optional: true };
}

const SECCOMP_RE = /^(on|off)(,[a-z]+=[a-z]+)*$/;
const path = absPath(true);
const flag = (kata: string | undefined, doc: string) =>
  knob(bool, { default: false, ...(kata !== undefined ? { kata } : {}), doc });

const clampVcpus: KataAdjust = (raw, { hostCpus }) => {
  if (typeof raw !== 'number') return { value: raw };
  if (raw < 0) return { value: hostCpus, reason: `${raw} means all host CPUs: ${hostCpus}` };
  if (raw > hostCpus)
    return { value: hostCpus, reason: `${raw} exceeds the host's ${hostCpus} CPUs; clamped as Kata does` };
  return { value: raw };
};

const clampMaxVcpus: KataAdjust = (raw, { hostCpus, arch }) => {
  if (typeof raw !== 'number' || raw <= 0) return { value: raw };
  const cap = Math.min(hostCpus, arch === undefined ? hostCpus : ARCH_DEFAULTS[arch].maxVCPUs);
  return raw > cap
    ? { value: cap, reason: `${raw} exceeds host CPUs / MaxQemuVCPUs; clamped to ${cap} as Kata does` }
    : { value: raw };
};

const clampBridges: KataAdjust = (raw) =>
  typeof raw === 'number' && raw > MAX_BRIDGES
    ? { value: MAX_BRIDGES, reason: `${raw} exceeds ${MAX_BRIDGES} bridges; clamped as Kata does` }
    : { value: raw };

// Kata: strings.Fields + DeserializeParams, so the result is a Param[] as the type says.
const kataParams: KataAdjust = (raw) =>
  typeof raw === 'string'
    ? { value: deserializeParams(raw.split(/\s+/).filter((f) => f !== '')) }
    : { value: raw };

/**
 * Every hypervisor knob, in `HypervisorConfig`'s order: its zod type, default, Kata key and doc.
 *
 * @example
 * HYPERVISOR_KNOBS.numVCPUs.kata;    // 'default_vcpus'
 * HYPERVISOR_KNOBS.numVCPUs.default; // 1
 * HYPERVISOR_KNOBS.memorySize.schema.safeParse(512).success; // true
 */
export const HYPERVISOR_KNOBS = {
  arch: knob(oneOf(ARCHES), {
    default: (f) => f.arch,
    doc: "Guest architecture (Go's GOARCH names); selects machine type, QEMU binary and kernel params. Default: the host's",
  }),
  numVCPUs: knob(uint(), {
    default: DEFAULT_VCPUS,
    zeroIsUnset: true,
    kata: 'default_vcpus',
    kataAdjust: clampVcpus,
    doc: "vCPUs at boot (Kata's NumVCPUs)",
  }),
  defaultMaxVCPUs: knob(uint(), {
    default: (f) => Math.min(f.hostCpus, f.archDefaults.maxVCPUs),
    zeroIsUnset: true,
    kata: 'default_maxvcpus',
    kataAdjust: clampMaxVcpus,
    doc: 'Maximum vCPUs (hot-plug limit, `-smp maxcpus`, kernel `nr_cpus`). Default: min(host CPUs, MaxQemuVCPUs)',
  }),
  memorySize: knob(uint(0, undefined, 'an integer ≥ 256 (MiB)'), {
    default: DEFAULT_MEMORY_MIB,
    zeroIsUnset: true,
    kata: 'default_memory',
    doc: "Guest memory at boot, MiB (Kata's MemorySize); at least 256, at most the host's",
  }),
  defaultBridges: knob(uint(), {
    default: DEFAULT_BRIDGES,
    zeroIsUnset: true,
    kata: 'default_bridges',
    kataAdjust: clampBridges,
    doc: 'PCI bridges for hot plug (at most 5)',
  }),
  msize9p: knob(uint(), {
    default: (f) => (f.get('sharedFS') === 'virtio-fs' ? 0 : DEFAULT_MSIZE_9P),
    zeroIsUnset: true,
    kata: 'msize_9p',
    doc: 'msize of 9p shares (0 when virtio-fs is the shared fs)',
  }),
  memSlots: knob(uint(), {
    default: DEFAULT_MEM_SLOTS,
    zeroIsUnset: true,
    kata: 'memory_slots',
    doc: 'Memory hot-plug slots (`-m slots=`), at most 255',
  }),
  memOffset: knob(uint(), {
    default: 0,
    kata: 'memory_offset',
    doc: 'Extra memory space (MiB) reserved for nvdimm devices (added to maxmem)',
  }),
  virtioFSCacheSize: knob(uint(), {
    default: DEFAULT_VIRTIOFS_CACHE_SIZE,
    kata: 'virtio_fs_cache_size',
    doc: 'virtio-fs DAX window, MiB (0 = no DAX)',
  }),
  kernelParams: knob(paramsSchema, {
    default: [],
    kata: 'kernel_params',
    kataAdjust: kataParams,
    doc: 'Extra guest kernel parameters (`{key, value}[]` or `"a=1 b"`); appended last so they win',
  }),
  hypervisorParams: knob(paramsSchema, { default: [], doc: 'Extra hypervisor (QEMU) parameters' }),
  kernelPath: knob(path, {
    default: (f) => f.assets.kernelPath ?? '',
    zeroIsUnset: true,
    kata: 'kernel',
    doc: 'Guest kernel host path (required; may come from `ValidateOptions.defaults`)',
  }),
  imagePath: knob(path, {
    default: '',
    kata: 'image',
    doc: "Guest rootfs image host path ('' with an initrd)",
  }),
  initrdPath: knob(path, { default: '', kata: 'initrd', doc: "Guest initrd host path ('' with an image)" }),
  firmwarePath: knob(path, { default: '', kata: 'firmware', doc: "Firmware (BIOS) host path ('' = QEMU's)" }),
  machineAccelerators: knob(text, {
    default: '',
    kata: 'machine_accelerators',
    doc: 'Machine accelerators, comma-separated (e.g. `nvdimm=on`)',
  }),
  cpuFeatures: knob(text, {
    default: '',
    kata: 'cpu_features',
    doc: 'CPU features, comma-separated (e.g. `pmu=off`)',
  }),
  hypervisorPath: knob(command, {
    default: (f) => f.archDefaults.hypervisorPath,
    kata: 'path',
    doc: "QEMU executable (a name in PATH or an absolute path). Default: Debian's binary for the arch",
  }),
  blockDeviceDriver: knob(oneOf(BLOCK_DRIVERS), {
    default: DEFAULT_BLOCK_DRIVER,
    kata: 'block_device_driver',
    doc: 'Block device driver of disks (on s390x `virtio-blk` becomes `virtio-blk-ccw`)',
  }),
  hypervisorMachineType: knob(text, {
    default: (f) => f.archDefaults.machineTypes[0] ?? '',
    zeroIsUnset: true,
    kata: 'machine_type',
    doc: 'QEMU machine type (`q35`, `pc`, `microvm`, `virt`, `pseries`, `s390-ccw-virtio`)',
  }),
  memoryPath: knob(path, { default: '', doc: "VM memory file for templating ('' unless templating)" }),
  devicesStatePath: knob(path, {
    default: '',
    doc: "VM device state file ('' unless booting from a template)",
  }),
  entropySource: knob(path, {
    default: DEFAULT_ENTROPY_SOURCE,
    zeroIsUnset: true,
    kata: 'entropy_source',
    doc: 'Host entropy source of virtio-rng',
  }),
  sharedFS: knob(oneOf(SHARED_FS_KINDS), {
    default: DEFAULT_SHARED_FS,
    kata: 'shared_fs',
    doc: 'Shared file system (`virtio-9p`, `virtio-fs`, `none`)',
  }),
  virtioFSDaemon: knob(command, {
    default: DEFAULT_VIRTIOFS_DAEMON,
    kata: 'virtio_fs_daemon',
    doc: 'virtiofsd executable',
  }),
  virtioFSCache: knob(oneOf(VIRTIOFS_CACHE_MODES), {
    default: DEFAULT_VIRTIOFS_CACHE,
    kata: 'virtio_fs_cache',
    doc: 'virtiofsd cache mode',
  }),
  virtioFSExtraArgs: knob(textList, {
    default: [],
    kata: 'virtio_fs_extra_args',
    doc: 'Extra virtiofsd arguments',
  }),
  fileBackedMemRootDir: knob(path, {
    default: '',
    kata: 'file_mem_backend',
    doc: "Root dir of a file-backed memory backend ('' = none)",
  }),
  pflash: knob(absPath(false).array(), { default: [], kata: 'pflashes', doc: 'pflash image paths' }),
  blockDeviceCacheSet: flag('block_device_cache_set', 'Set cache options on block devices'),
  blockDeviceCacheDirect: flag('block_device_cache_direct', 'O_DIRECT on block devices (`cache.direct`)'),
  blockDeviceCacheNoflush: flag('block_device_cache_noflush', 'Ignore guest flushes (`cache.no-flush`)'),
  disableBlockDeviceUse: flag('disable_block_device_use', 'Disallow block devices for container rootfs'),
  enableIOThreads: flag('enable_iothreads', 'IO threads for virtio-scsi'),
  debug: flag('enable_debug', 'Debug output in hypervisor and kernel params'),
  memPrealloc: flag('enable_mem_prealloc', 'Pre-allocate guest memory'),
  hugePages: flag('enable_hugepages', 'Back guest memory with huge pages'),
  virtioMem: flag('enable_virtio_mem', 'Enable virtio-mem'),
  iommu: flag('enable_iommu', 'Add a vIOMMU'),
  iommuPlatform: flag('enable_iommu_platform', 'IOMMU_PLATFORM on supported devices'),
  realtime: flag('realtime', 'Realtime (`-overcommit`)'),
  mlock: flag('mlock', 'Lock memory when realtime'),
  disableNestingChecks: flag('disable_nesting_checks', 'Skip nested-virtualization customizations'),
  useVSock: flag('use_vsock', 'Use vsock for the agent (`agent.use_vsock=`)'),
  disableImageNvdimm: flag('disable_image_nvdimm', 'Do not use nvdimm for the rootfs image'),
  hotplugVFIOOnRootBus: flag(
    'hotplug_vfio_on_root_bus',
    'Hot-plug VFIO devices on the root bus, not a bridge',
  ),
  pcieRootPort: knob(uint(), { default: 0, kata: 'pcie_root_port', doc: 'PCIe root ports (q35, virt)' }),
  bootToBeTemplate: flag(undefined, 'Boot this VM to become a template'),
  bootFromTemplate: flag(undefined, 'Boot this VM from a template'),
  disableVhostNet: flag('disable_vhost_net', 'Host lacks vhost-net: use plain tap'),
  enableVhostUserStore: flag(
    'enable_vhost_user_store',
    'Enable the vhost-user block/scsi store (needs huge pages)',
  ),
  vhostUserStorePath: knob(path, {
    default: '',
    kata: 'vhost_user_store_path',
    doc: 'Directory of vhost-user sockets and device nodes',
  }),
  guestMemoryDumpPath: knob(path, {
    default: '',
    kata: 'guest_memory_dump_path',
    doc: "Host directory of guest memory dumps on panic ('' = none)",
  }),
  guestMemoryDumpPaging: flag('guest_memory_dump_paging', 'Paging for `dump-guest-memory`'),
  // Default devices a sandbox may go without (vmactor-only; what each costs: README "Default argv").
  disableConsole: flag(undefined, 'No virtconsole (hvc0 on `console.sock`): no `consoleLog()` / `console$`'),
  disableRng: flag(undefined, 'No virtio-rng device (the guest gets no host entropy)'),
  disableAgentChannel: flag(
    undefined,
    'No agent channel (`agent.channel.0` on `kata.sock`, or the agent vsock): no `sb.agent()`',
  ),
  disableReattachMonitor: flag(
    undefined,
    'No second QMP monitor on `qmp.sock`: a restarted controller cannot reattach',
  ),
  seccompSandbox: optionalKnob(pattern(SECCOMP_RE, 'a `-sandbox` value like `on,obsolete=deny,spawn=deny`'), {
    kata: 'seccompsandbox',
    doc: 'QEMU `-sandbox` seccomp value (e.g. `on,obsolete=deny`); absent = no `-sandbox`',
  }),
} as const;

/** The knob table's row type by field. */
export type HypervisorKnobs = typeof HYPERVISOR_KNOBS;

/** Every knob's row, typed loosely for iteration. */
export const KNOB_ENTRIES = Object.entries(HYPERVISOR_KNOBS) as readonly (readonly [
  keyof HypervisorKnobs,
  Knob,
])[];

/** Resolve every knob: the given value, else (also for 0 / '' where `zeroIsUnset`) its default. */
export function resolveKnobs(
  given: Readonly<Partial<Record<keyof HypervisorKnobs, unknown>>>,
  facts: Omit<KnobFacts, 'get'>,
): Record<string, unknown> {
  const resolved: Record<string, unknown> = {};
  const get = (key: string): unknown => {
    if (Object.hasOwn(resolved, key)) return resolved[key];
    const row = (HYPERVISOR_KNOBS as Readonly<Record<string, Knob>>)[key];
    if (row === undefined) return undefined;
    const value = (given as Readonly<Record<string, unknown>>)[key];
    const unset = value === undefined || (row.zeroIsUnset === true && (value === 0 || value === ''));
    const fallback = typeof row.default === 'function' ? row.default({ ...facts, get }) : row.default;
    const out = unset ? fallback : value;
    if (out !== undefined) resolved[key] = out;
    return out;
  };
  for (const [key] of KNOB_ENTRIES) get(key);
  return resolved;
}
