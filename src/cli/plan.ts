// `vmactor plan --config FILE`: prints the QEMU command line a config would run, or the whole plan as JSON.
import { statSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/config-error.js';
import { type LoadedConfig, loadConfigFile } from '../config/config-file.js';
import { ARCHES, type Arch, type ValidatedConfig } from '../config/types.js';
import { type ValidateOptions, validateConfig } from '../config/validate.js';
import { VmactorError } from '../errors/vmactor-error.js';
import { guestArtifacts } from '../guest/paths.js';
import { planQemu, type QemuPlan } from '../qemu/plan.js';

const USAGE = `usage: vmactor plan --config FILE [--json] [--run-dir DIR] [--arch A] [--accel tcg|kvm] [--qmp-fd N] [--uuid U]

Prints the QEMU command line (and virtiofsd's, for virtio-fs) that FILE would run. FILE is a
vmactor JSON config or a Kata configuration-qemu.toml. Kernel and initrd default to the guest
\`vmactor setup\` builds. --json prints the whole plan (argv, fds, paths, bridges, devices, the device record).
Nothing is created or launched. Exit code 2: invalid config (every problem on stderr).
`;

/** Quotes one argument for a POSIX shell, for display only (vmactor never runs a shell). */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** One option per line: `argv[0] \` then `  -flag value \` … */
export function formatCommand(argv: readonly string[]): string {
  const [bin, ...rest] = argv;
  const lines: string[] = [shellQuote(bin ?? '')];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string;
    const next = rest[i + 1];
    if (a.startsWith('-') && next !== undefined && !next.startsWith('-')) {
      lines.push(`  ${shellQuote(a)} ${shellQuote(next)}`);
      i++;
    } else {
      lines.push(`  ${shellQuote(a)}`);
    }
  }
  return `${lines.join(' \\\n')}\n`;
}

function sizeOf(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

/**
 * A Kata TOML names Kata's own assets (`/usr/share/kata-containers/...`). When the kernel, image or
 * initrd it names does not exist on this host, `plan` shows what would run here: the default guest
 * from `vmactor setup` (kernel + initrd) replaces them, with a warning. JSON configs are taken as is.
 */
function withLocalAssets(
  config: LoadedConfig,
  guest: { kernel: string; initrd: string },
  opts: ValidateOptions,
  warn: (line: string) => void,
): ValidatedConfig {
  const hv = config.hypervisor;
  if (config.source.format !== 'kata-toml') return config;
  const missing = [hv.kernelPath, hv.imagePath, hv.initrdPath].filter((p) => p && sizeOf(p) === undefined);
  if (missing.length === 0) return config;
  warn(
    `${missing.join(', ')} not found on this host: planning with the default guest (${guest.kernel}, ${guest.initrd}) instead`,
  );
  return validateConfig(
    {
      id: config.id,
      hypervisor: { ...hv, kernelPath: guest.kernel, initrdPath: guest.initrd, imagePath: '' },
      devices: config.devices,
    },
    opts,
  );
}

/** Runs `vmactor plan`; returns the exit code. */
export async function runPlan(argv: readonly string[]): Promise<number> {
  let values: {
    config?: string;
    json?: boolean;
    'run-dir'?: string;
    arch?: string;
    accel?: string;
    'qmp-fd'?: string;
    uuid?: string;
    help?: boolean;
  };
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string', short: 'c' },
        json: { type: 'boolean' },
        'run-dir': { type: 'string' },
        arch: { type: 'string' },
        accel: { type: 'string' },
        'qmp-fd': { type: 'string' },
        uuid: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    process.stderr.write(`vmactor plan: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.config === undefined) {
    process.stderr.write(`vmactor plan: --config FILE is required\n${USAGE}`);
    return 2;
  }
  if (values.arch !== undefined && !(ARCHES as readonly string[]).includes(values.arch)) {
    process.stderr.write(
      `vmactor plan: Expected \`--arch\` to be one of ${ARCHES.join(', ')}, got \`${values.arch}\`\n`,
    );
    return 2;
  }
  if (values.accel !== undefined && values.accel !== 'tcg' && values.accel !== 'kvm') {
    process.stderr.write(`vmactor plan: Expected \`--accel\` to be tcg or kvm, got \`${values.accel}\`\n`);
    return 2;
  }
  const qmpFd = values['qmp-fd'] === undefined ? undefined : Number(values['qmp-fd']);
  if (qmpFd !== undefined && !(Number.isInteger(qmpFd) && qmpFd >= 3)) {
    process.stderr.write(
      `vmactor plan: Expected \`--qmp-fd\` to be an integer ≥ 3, got \`${values['qmp-fd']}\`\n`,
    );
    return 2;
  }

  const hostCpus = availableParallelism();
  const hostMemoryMiB = Math.floor(totalmem() / (1024 * 1024));
  const guest = guestArtifacts();
  try {
    const validateOpts: ValidateOptions = {
      hostCpus,
      hostMemoryMiB,
      ...(values.arch !== undefined ? { arch: values.arch as Arch } : {}),
      defaults: { kernelPath: guest.kernel, initrdPath: guest.initrd },
    };
    const loaded = await loadConfigFile(values.config, validateOpts);
    for (const w of loaded.warnings) process.stderr.write(`vmactor plan: warning: ${w.key}: ${w.reason}\n`);
    const config = withLocalAssets(loaded, guest, validateOpts, (l) =>
      process.stderr.write(`vmactor plan: warning: ${l}\n`),
    );
    const plan: QemuPlan = planQemu(config, {
      runDir: values['run-dir'] ?? join('/run/vmactor', config.id),
      hostCpus,
      hostMemoryMiB,
      accelerator: (values.accel as 'tcg' | 'kvm' | undefined) ?? 'tcg',
      ...(values.uuid !== undefined ? { uuid: values.uuid } : {}),
      sizeOf,
      ...(qmpFd !== undefined ? { qmpFd } : {}),
    });
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ ...plan, source: loaded.source, warnings: loaded.warnings }, null, 2)}\n`,
      );
    } else {
      process.stdout.write(formatCommand(plan.argv));
      if (plan.virtiofsd)
        process.stdout.write(`\n# virtiofsd, started first:\n${formatCommand(plan.virtiofsd.argv)}`);
    }
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`vmactor plan: ${err.message}\n`);
      return 2;
    }
    if (err instanceof VmactorError) {
      process.stderr.write(`vmactor plan: ${err.code}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
