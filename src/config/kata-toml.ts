// Kata's configuration-qemu.toml ([hypervisor.qemu]) -> vmactor SandboxConfig, reporting every key it does not use.
//
// The key map and Kata's loader adjustments come from the knob table (knobs.ts): a knob with a
// `kata` key is mapped; everything else is ignored with a reason or reported as unknown.
import { availableParallelism } from 'node:os';
import { parse, TomlError } from 'smol-toml';
import { type Arch, hostArch } from '../devices/rules.js';
import { type Issues, isPlainObject, own } from './checks.js';
import { ConfigError } from './config-error.js';
import { parseKnobs } from './hypervisor.js';
import { type KataAdjust, KNOB_ENTRIES } from './knobs.js';
import type {
  ConfigIssue,
  ConfigWarning,
  HypervisorConfig,
  SandboxConfig,
  ValidatedConfig,
} from './types.js';
import { type ValidateOptions, validateConfig } from './validate.js';

/** Kata `[hypervisor.qemu]` keys vmactor maps, and the HypervisorConfig field each becomes (from the knob table). */
export const KATA_KEY_MAP: Readonly<Record<string, keyof HypervisorConfig>> = Object.freeze(
  Object.fromEntries(
    KNOB_ENTRIES.flatMap(([field, row]) => (row.kata === undefined ? [] : [[row.kata, field]])),
  ),
);

const KATA_ADJUST: Readonly<Record<string, KataAdjust>> = Object.fromEntries(
  KNOB_ENTRIES.flatMap(([, row]) =>
    row.kata === undefined || row.kataAdjust === undefined ? [] : [[row.kata, row.kataAdjust]],
  ),
);

const ALLOW_LIST = 'annotation allow-list, not used by vmactor (it reads no annotations)';

/** Kata `[hypervisor.qemu]` keys vmactor knows and deliberately does not use, with the reason. */
export const KATA_IGNORED_KEYS: Readonly<Record<string, string>> = {
  enable_annotations: ALLOW_LIST,
  valid_hypervisor_paths: ALLOW_LIST,
  valid_ctlpaths: ALLOW_LIST,
  valid_jailer_paths: ALLOW_LIST,
  valid_virtio_fs_daemon_paths: ALLOW_LIST,
  valid_vhost_user_store_paths: ALLOW_LIST,
  valid_file_mem_backends: ALLOW_LIST,
  valid_entropy_sources: ALLOW_LIST,
  ctlpath: 'hypervisor control binary (ACRN/Cloud Hypervisor only)',
  jailer_path: 'jailer (Firecracker only)',
  guest_hook_path:
    'OCI hook directory inside the guest, consumed by the Kata agent, not the hypervisor layer',
  rootfs_type: "vmactor builds ext4 root params only, as Kata's qemu_arch_base.go of that era does",
  confidential_guest: 'confidential guests (TDX/SEV/SE) are not supported by vmactor',
  sev_snp_guest: 'confidential guests (TDX/SEV/SE) are not supported by vmactor',
  rootless: 'vmactor runs QEMU as the calling user; no user switching',
  firmware_volume: 'split UEFI firmware volumes are not supported; use `pflashes`',
  default_maxmemory: "maxmem is derived from host memory, as in Kata's qemu.go memoryTopology",
  virtio_fs_queue_size: 'set per virtio-fs device (`queueSize`)',
  virtio_fs_inode_file_handles: "Debian's C virtiofsd has no inode file-handle option",
  block_device_aio: 'set per block device (`aio`)',
  reclaim_guest_freed_memory: 'no balloon device (free page reporting) in vmactor',
  vhost_user_reconnect_timeout_sec: 'vhost-user reconnect is not supported',
  extra_monitor_socket: 'vmactor always adds its own reattach QMP socket in the run dir',
  hot_plug_vfio: 'use `hotplug_vfio_on_root_bus` / `pcie_root_port`',
  cold_plug_vfio: 'cold-plug VFIO devices are given as `devices` (kind `vfio`)',
  rx_rate_limiter_max_rate: 'network rate limiting is the host’s (tc) concern, outside vmactor',
  tx_rate_limiter_max_rate: 'network rate limiting is the host’s (tc) concern, outside vmactor',
  enable_guest_swap: 'guest swap is a container-runtime feature',
  use_legacy_serial: 'vmactor uses virtio consoles',
  disable_selinux: 'SELinux labelling is not done by vmactor',
  disable_guest_selinux: 'SELinux labelling is not done by vmactor',
  guest_selinux_label: 'SELinux labelling is not done by vmactor',
  sandbox_cgroup_only: 'cgroup placement is the container runtime’s concern',
  enable_vcpus_pinning: 'vCPU pinning is not supported',
};

/** Top-level sections other than `[hypervisor.qemu]`, with why their keys are not used. */
const IGNORED_SECTIONS: Readonly<Record<string, string>> = {
  factory: 'VM factory/cache settings belong to the Kata runtime; use `bootToBeTemplate`/`bootFromTemplate`',
  agent: 'Kata agent settings; vmactor does not run the Kata agent',
  runtime: 'Kata runtime (shim) settings, outside the hypervisor layer',
  proxy: 'Kata 1.x proxy settings, not used',
  shim: 'Kata 1.x shim settings, not used',
  netmon: 'Kata 1.x netmon settings, not used',
  image: 'Kata image service settings, not used',
};

/** Result of reading a Kata TOML: the SandboxConfig, warnings, and where each field came from. */
export interface KataTomlResult {
  readonly config: SandboxConfig;
  /** Ignored keys (with reasons), unknown keys, and values adjusted as Kata's loader would. */
  readonly ignoredKeys: readonly ConfigWarning[];
  /** `hypervisor.<field>` → `hypervisor.qemu.<kata_key>`, to point issues at the TOML key. */
  readonly sourcePaths: Readonly<Record<string, string>>;
}

/** Options of the Kata loader. */
export interface KataTomlOptions {
  /** Sandbox id (TOML has none); default `kata`. */
  readonly id?: string;
  /** Host CPUs for `default_vcpus < 0` and clamping (default `os.availableParallelism()`). */
  readonly hostCpus?: number;
  /** Guest arch (default this host's). */
  readonly arch?: Arch;
  /** File name for messages. */
  readonly source?: string;
}

function flattenKeys(value: unknown, prefix: string): string[] {
  if (!isPlainObject(value)) return [prefix];
  const keys = Object.keys(value);
  if (keys.length === 0) return [prefix];
  return keys.flatMap((k) => flattenKeys(value[k], `${prefix}.${k}`));
}

/** Parse the TOML and map keys (values unchecked); shared by parseKataToml and loadKataToml. */
function mapKataToml(text: string, opts: KataTomlOptions): KataTomlResult {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    const detail =
      err instanceof TomlError
        ? `${err.message.split('\n')[0]} at line ${err.line}, column ${err.column}`
        : String(err);
    throw new ConfigError([{ path: '', message: `Expected valid TOML, got ${detail}` }], {
      cause: err,
      source: opts.source,
    });
  }
  const warnings: ConfigWarning[] = [];
  const hostCpus = Math.max(1, Math.floor(opts.hostCpus ?? availableParallelism()));
  const arch = opts.arch ?? hostArch();

  const hypervisors = doc.hypervisor;
  const qemu = isPlainObject(hypervisors) ? hypervisors.qemu : undefined;
  if (!isPlainObject(qemu)) {
    throw new ConfigError(
      [{ path: 'hypervisor.qemu', message: 'Expected a `[hypervisor.qemu]` table, got nothing' }],
      {
        source: opts.source,
      },
    );
  }
  for (const [section, value] of Object.entries(doc)) {
    if (section === 'hypervisor') {
      for (const other of Object.keys(hypervisors as Record<string, unknown>)) {
        if (other !== 'qemu') {
          for (const key of flattenKeys(
            (hypervisors as Record<string, unknown>)[other],
            `hypervisor.${other}`,
          )) {
            warnings.push({ key, kind: 'ignored', reason: 'vmactor drives QEMU only' });
          }
        }
      }
      continue;
    }
    const reason = own(IGNORED_SECTIONS, section);
    for (const key of flattenKeys(value, section)) {
      warnings.push(
        reason ? { key, kind: 'ignored', reason } : { key, kind: 'unknown', reason: 'unknown Kata section' },
      );
    }
  }

  const hypervisor: Record<string, unknown> = arch === undefined ? {} : { arch };
  const sourcePaths: Record<string, string> = {};
  for (const [key, raw] of Object.entries(qemu)) {
    const tomlPath = `hypervisor.qemu.${key}`;
    const field = own(KATA_KEY_MAP, key);
    if (field === undefined) {
      const reason = own(KATA_IGNORED_KEYS, key);
      warnings.push(
        reason
          ? { key: tomlPath, kind: 'ignored', reason }
          : { key: tomlPath, kind: 'unknown', reason: 'unknown Kata [hypervisor.qemu] key; not used' },
      );
      continue;
    }
    const adjust = own(KATA_ADJUST, key);
    const adjusted = adjust === undefined ? { value: raw } : adjust(raw, { hostCpus, arch });
    if (adjusted.reason !== undefined)
      warnings.push({ key: tomlPath, kind: 'adjusted', reason: adjusted.reason });
    const value = adjusted.value;
    hypervisor[field] = value;
    sourcePaths[`hypervisor.${field}`] = tomlPath;
  }
  return { config: { id: opts.id ?? 'kata', hypervisor }, ignoredKeys: warnings, sourcePaths };
}

/**
 * Parse Kata's configuration-qemu.toml and map `[hypervisor.qemu]` onto a vmactor SandboxConfig:
 * each value type-checked (ConfigError at the TOML key otherwise), cross-field rules left to
 * `validateConfig`. Keys vmactor does not use are returned in `ignoredKeys` with a reason; keys it
 * does not know are returned as `unknown` — nothing is dropped silently. Kata's loader semantics
 * kept: `default_vcpus < 0` → host CPUs; vCPUs above host CPUs and bridges above 5 are clamped
 * (reported as `adjusted`).
 *
 * @example
 * const { config, ignoredKeys } = parseKataToml(await readFile('configuration-qemu.toml', 'utf8'));
 */
export function parseKataToml(text: string, opts: KataTomlOptions = {}): KataTomlResult {
  const mapped = mapKataToml(text, opts);
  // Type-check the mapped values now, so the returned SandboxConfig holds what its type says.
  const issues: Issues = { list: [] };
  const checked = parseKnobs(issues, 'hypervisor', mapped.config.hypervisor ?? {});
  if (issues.list.length > 0) {
    throw new ConfigError(toTomlIssues(issues.list, mapped.sourcePaths), { source: opts.source });
  }
  return { ...mapped, config: { ...mapped.config, hypervisor: checked as SandboxConfig['hypervisor'] } };
}

/** Rewrite issue paths `hypervisor.<field>...` to the TOML key they came from. */
export function toTomlIssues(
  issues: readonly ConfigIssue[],
  sourcePaths: Readonly<Record<string, string>>,
): ConfigIssue[] {
  return issues.map((issue) => {
    const match = /^(hypervisor\.[A-Za-z0-9]+)(.*)$/.exec(issue.path);
    const source = match?.[1] !== undefined ? own(sourcePaths, match[1]) : undefined;
    if (match === null || source === undefined) return issue;
    const path = `${source}${match[2] ?? ''}`;
    const message = issue.message.split(`\`${match[1]}${match[2] ?? ''}\``).join(`\`${path}\``);
    return { path, message };
  });
}

/**
 * Parse and validate a Kata TOML: a ValidatedConfig plus the loader's warnings. Issues point at
 * the TOML keys (`hypervisor.qemu.default_memory`) where a key maps to the failing field.
 *
 * @example
 * const { config, ignoredKeys } = loadKataToml(text, { id: 'sb1' });
 */
export function loadKataToml(
  text: string,
  opts: KataTomlOptions & Pick<ValidateOptions, 'hostMemoryMiB' | 'defaults'> = {},
): { readonly config: ValidatedConfig; readonly ignoredKeys: readonly ConfigWarning[] } {
  const parsed = mapKataToml(text, opts);
  try {
    const config = validateConfig(parsed.config, {
      ...(opts.hostCpus !== undefined ? { hostCpus: opts.hostCpus } : {}),
      ...(opts.hostMemoryMiB !== undefined ? { hostMemoryMiB: opts.hostMemoryMiB } : {}),
      ...(opts.defaults !== undefined ? { defaults: opts.defaults } : {}),
    });
    return { config, ignoredKeys: parsed.ignoredKeys };
  } catch (err) {
    if (err instanceof ConfigError) {
      throw new ConfigError(toTomlIssues(err.issues, parsed.sourcePaths), {
        cause: err,
        source: opts.source,
      });
    }
    throw err;
  }
}
