// validateConfig: user SandboxConfig (unknown JSON) -> normalized ValidatedConfig, or one ConfigError listing every issue.
//
// Types come from one place each: devices from the zod `deviceSpecSchema` (src/devices/spec.ts),
// hypervisor knobs from the knob table (knobs.ts); zod issues are rendered in execa's style with
// full paths (zod-issues.ts). Cross-field rules are small modules: assets, numbers, machine,
// templates, devices.
//
// Validation is pure: it reads no files and launches nothing. Whether kernel/image/initrd/device
// files exist is checked at launch time (QEMU's own refusal becomes a typed error there).
import { availableParallelism, totalmem } from 'node:os';
import { type Arch, hostArch, isSandboxId, SANDBOX_ID_RE } from '../devices/rules.js';
import { checkAssets } from './assets.js';
import { type Checker, checkObject, expected, type Issues, isPlainObject, report, text } from './checks.js';
import { ConfigError } from './config-error.js';
import { checkDevices } from './devices.js';
import { draftHypervisor, parseKnobs } from './hypervisor.js';
import { checkMachine } from './machine.js';
import { checkNumbers } from './numbers.js';
import { checkTemplates } from './templates.js';
import type { HypervisorConfig, ValidatedConfig } from './types.js';

export { DEVICE_ID_RE, SANDBOX_ID_RE } from '../devices/rules.js';
export { HYPERVISOR_KEYS } from './hypervisor.js';

/** Options of `validateConfig`: host facts (default: this host) and fallback guest assets. */
export interface ValidateOptions {
  /** Host CPUs (default `os.availableParallelism()`): the default and cap-source of `defaultMaxVCPUs`. */
  readonly hostCpus?: number;
  /** Host memory in MiB (default `os.totalmem()`): `memorySize` may not exceed it (it is QEMU's maxmem). */
  readonly hostMemoryMiB?: number;
  /** Guest architecture when the config does not say (default: this host's). */
  readonly arch?: Arch;
  /** The host's `process.arch` (default this process's): gives the default arch when `arch` is unset. */
  readonly nodeArch?: string;
  /** Assets used when the config gives none (e.g. the project's default guest). */
  readonly defaults?: {
    readonly kernelPath?: string;
    readonly initrdPath?: string;
    readonly imagePath?: string;
  };
}

const sandboxId: Checker<string> = (issues, path, value) =>
  isSandboxId(value)
    ? value
    : expected(issues, path, `an ASCII id matching ${SANDBOX_ID_RE} without \`..\``, value);

const passThrough: Checker<unknown> = (_issues, _path, value) => value;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** The guest arch: given, else `opts.arch`, else the host's; an issue when none is known. */
function archOf(
  issues: Issues,
  given: Arch | undefined,
  opts: ValidateOptions,
  hypervisorInvalid: boolean,
): Arch {
  const arch = given ?? opts.arch ?? hostArch(opts.nodeArch);
  if (arch !== undefined) return arch;
  if (!hypervisorInvalid) {
    report(
      issues,
      'hypervisor.arch',
      `Expected \`hypervisor.arch\` to be set explicitly (this host's \`${opts.nodeArch ?? process.arch}\` has no QEMU tables), got nothing`,
    );
  }
  return 'amd64'; // only to run the remaining rules; the config is refused
}

/**
 * Validate a user config and apply the defaults of the knob table. Pure: reads no files, launches
 * nothing (asset existence is checked at launch). Throws ONE `ConfigError` listing every problem.
 *
 * Rules (Kata's `valid()`, `checkTemplateConfig()` and qemu.go refusals, plus Kata's loader):
 * kernel required; exactly one of image/initrd; templates need `memoryPath` (and `devicesStatePath`
 * to boot from one), never both roles, never with virtio-fs or file-backed memory; vhost-user store
 * needs huge pages; `memorySize` ≥ 256 MiB and ≤ host memory; `numVCPUs` ≤ `defaultMaxVCPUs` ≤ the
 * arch's MaxQemuVCPUs; ≤ 5 bridges; machine type known for the arch; devices by `deviceSpecSchema`
 * with unique ids and vsock CIDs, at most one virtio-fs share.
 *
 * @example
 * const cfg = validateConfig({ id: 'web-1', hypervisor: { kernelPath: '/k/vmlinuz', initrdPath: '/k/initrd' } });
 * cfg.hypervisor.memorySize; // 2048
 */
export function validateConfig(input: unknown, opts: ValidateOptions = {}): ValidatedConfig {
  const issues: Issues = { list: [] };
  const hostCpus = Math.max(1, Math.floor(opts.hostCpus ?? availableParallelism()));
  const hostMemoryMiB = Math.floor(opts.hostMemoryMiB ?? totalmem() / (1024 * 1024));

  const root = checkObject(
    issues,
    '',
    input,
    { id: sandboxId, hypervisor: passThrough, devices: passThrough, $schema: text },
    ['id'],
    'a sandbox config object `{ id, hypervisor?, devices? }`',
  );
  if (root === undefined) throw new ConfigError(issues.list);

  const hypervisorInvalid = root.hypervisor !== undefined && !isPlainObject(root.hypervisor);
  if (hypervisorInvalid) expected(issues, 'hypervisor', 'an object', root.hypervisor);
  const given = isPlainObject(root.hypervisor) ? parseKnobs(issues, 'hypervisor', root.hypervisor) : {};

  const arch = archOf(issues, given.arch as Arch | undefined, opts, hypervisorInvalid);
  const draft = draftHypervisor(issues, root.hypervisor, given, opts, { arch, hostCpus, hostMemoryMiB });
  // A hypervisor value that is not an object is reported once, without rule noise.
  if (!hypervisorInvalid) {
    checkAssets(draft);
    checkNumbers(draft);
    checkMachine(draft);
    checkTemplates(draft);
  }
  const { hv } = draft;
  const template = hv.bootToBeTemplate || hv.bootFromTemplate;
  const devices = checkDevices(issues, root.devices, {
    arch,
    blockDeviceDriver: hv.blockDeviceDriver,
    template,
  });

  if (issues.list.length > 0) throw new ConfigError(issues.list);
  const hypervisor: HypervisorConfig = draft.hv;
  return deepFreeze({ id: root.id as string, hypervisor, devices });
}
