// `vmactor run [--config FILE] [--for SECONDS] [--share DIR] [--id ID]`: boot the default guest, show
// progress and lifecycle events, then stop cleanly on Ctrl-C or after --for. Exit code = stop reason.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { StopReason } from '../../machines/sandbox.types.js';
import { parseKataToml } from '../config/kata-toml.js';
import type { DeviceSpecInput, HypervisorConfigInput, SandboxConfig } from '../config/types.js';
import { VmactorError } from '../errors/vmactor-error.js';
import { guestArtifacts } from '../guest/paths.js';
import { createLogger, defaultLogLevel } from '../log.js';
import { createSandbox } from '../sandbox/create.js';
import { SandboxStartError } from '../sandbox/errors.js';
import type { Sandbox } from '../sandbox/sandbox.js';

const USAGE = `usage: vmactor run [--config FILE] [--for SECONDS] [--share DIR] [--pause] [--id ID]

Boots a sandbox (default: the guest built by \`vmactor setup\`, 512 MiB, 1 vCPU), prints progress,
lifecycle events and the guest's ready line, then stops on Ctrl-C or after --for SECONDS.
  --config FILE   vmactor JSON config, or Kata's configuration-qemu.toml (*.toml)
  --share DIR     share DIR over virtio-fs; the guest mounts it and reads its files
  --for SECONDS   stop after SECONDS once the guest is ready
  --pause         once ready, pause the VM, queue a guest request, resume: the request is
                  answered only after resume (shows running -> paused -> running)
  --id ID         sandbox id (default: run-<pid>)
Exit codes: 0 requested, 3 guest-shutdown, 4 crashed, 5 start-failed, 6 virtiofsd-exited,
7 guest-panicked, 2 bad arguments or config (nothing launched).
`;

/** Exit code of `vmactor run` for each stop reason. */
export const RUN_EXIT_CODES: Readonly<Record<StopReason, number>> = {
  requested: 0,
  'guest-shutdown': 3,
  crashed: 4,
  'start-failed': 5,
  'virtiofsd-exited': 6,
  'guest-panicked': 7,
};

const SHARE_TAG = 'vmactor-share';
const GUEST_MOUNT = '/mnt/share';
const MAX_SHARED_READS = 3;
const MAX_SHARED_BYTES = 4096;

interface RunArgs {
  config?: string;
  for?: string;
  share?: string;
  id?: string;
  pause?: boolean;
  help?: boolean;
}

async function loadConfig(file: string | undefined, id: string): Promise<SandboxConfig> {
  if (file === undefined) return { id };
  const text = await readFile(file, 'utf8');
  if (file.endsWith('.toml')) {
    const { config, ignoredKeys } = parseKataToml(text, { id, source: basename(file) });
    for (const w of ignoredKeys)
      process.stderr.write(`vmactor run: ${basename(file)}: ${JSON.stringify(w)}\n`);
    return config;
  }
  const parsed = JSON.parse(text) as SandboxConfig;
  return { ...parsed, id: parsed.id ?? id };
}

/** Adds the default guest, a console on hvc0, and the share to a config. */
function withRunDefaults(config: SandboxConfig, share: string | undefined): SandboxConfig {
  const g = guestArtifacts('cloud');
  const hv: HypervisorConfigInput = { ...config.hypervisor };
  if (!hv.kernelPath) {
    hv.kernelPath = g.kernel;
    if (!hv.initrdPath && !hv.imagePath) hv.initrdPath = g.initrd;
  }
  hv.memorySize ??= 512;
  hv.kernelParams = [...(hv.kernelParams ?? []), { key: 'console', value: 'hvc0' }];
  const devices: DeviceSpecInput[] = [...(config.devices ?? [])];
  if (share !== undefined) {
    hv.sharedFS = 'virtio-fs';
    devices.push({ kind: 'fs', type: 'virtio-fs', id: 'share0', tag: SHARE_TAG, sharedDir: share });
  }
  return { ...config, hypervisor: hv, devices };
}

/** Mounts the share in the guest and reads up to three of its files there. */
async function exerciseShare(sb: Sandbox, dir: string, say: (l: string) => void): Promise<void> {
  const agent = await sb.agent();
  await agent.request('mount', ['virtiofs', SHARE_TAG, GUEST_MOUNT], { timeout: 30_000 });
  say(`share: ${dir} mounted in the guest at ${GUEST_MOUNT} (virtio-fs tag ${SHARE_TAG})`);
  const names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
  say(`share: ${names.length} file(s): ${names.slice(0, 20).join(' ')}${names.length > 20 ? ' …' : ''}`);
  let read = 0;
  for (const name of names) {
    if (read >= MAX_SHARED_READS) break;
    if (/\s/.test(name)) continue;
    const size = (await stat(join(dir, name))).size;
    if (size > MAX_SHARED_BYTES) continue;
    const { base64 } = await agent.request('read', [`${GUEST_MOUNT}/${name}`], { timeout: 30_000 });
    const text = Buffer.from(base64, 'base64').toString('utf8');
    const first = text.split('\n')[0] ?? '';
    say(`share: read in guest ${GUEST_MOUNT}/${name} (${size} bytes): ${first.slice(0, 120)}`);
    read += 1;
  }
}

/**
 * Pauses the VM, sends a guest request while paused, resumes: the guest answers only after resume,
 * which shows that pause really stops the guest (its uptime does not advance while paused).
 */
async function pauseAndResume(sb: Sandbox, say: (l: string) => void): Promise<void> {
  const agent = await sb.agent();
  const before = await agent.request('ticks', [], { timeout: 30_000 });
  await sb.pause();
  const queued = agent.request('ticks', [], { timeout: 60_000 });
  say(`paused: a guest request is queued (guest uptime before pause ${before.uptime}s)`);
  await sb.resume();
  const after = await queued;
  say(`resumed: the queued request was answered (guest uptime ${after.uptime}s)`);
}

/** Runs `vmactor run`; returns the process exit code. */
export async function runRun(argv: readonly string[]): Promise<number> {
  let values: RunArgs;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string' },
        for: { type: 'string' },
        share: { type: 'string' },
        id: { type: 'string' },
        pause: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const seconds = values.for === undefined ? undefined : Number(values.for);
  if (seconds !== undefined && !(Number.isFinite(seconds) && seconds >= 0)) {
    process.stderr.write(`Expected \`--for\` to be a number of seconds, got \`${values.for}\`\n`);
    return 2;
  }
  const share = values.share === undefined ? undefined : resolve(values.share);
  if (
    share !== undefined &&
    !(await stat(share).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  ) {
    process.stderr.write(`Expected \`--share\` to be a directory, got \`${values.share}\`\n`);
    return 2;
  }

  const t0 = Date.now();
  const say = (line: string) => process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(2)}s] ${line}\n`);
  // Logs (JSON lines) go to stderr, quiet unless $VMACTOR_LOG_LEVEL says otherwise.
  const logger = createLogger({ level: process.env.VMACTOR_LOG_LEVEL ? defaultLogLevel() : 'warn' });
  const id = values.id ?? `run-${process.pid}`;

  let sb: Sandbox;
  try {
    const config = withRunDefaults(await loadConfig(values.config, id), share);
    say(`config: sandbox ${config.id}, kernel ${config.hypervisor?.kernelPath}`);
    sb = await createSandbox(config, { logger });
  } catch (e) {
    if (
      e instanceof VmactorError ||
      e instanceof SyntaxError ||
      (e as NodeJS.ErrnoException).code === 'ENOENT'
    ) {
      // Bad input (unreadable or invalid config): nothing was launched; exit 2 like a usage error.
      process.stderr.write(`vmactor run: ${(e as Error).message}\n`);
      return 2;
    }
    throw e;
  }
  say(`plan: ${sb.plan.argv[0]} (${sb.plan.argv.length - 1} args), run dir ${sb.runDir}`);
  sb.events$.subscribe((e) => say(`lifecycle: ${e.from} -> ${e.to}${e.reason ? ` (${e.reason})` : ''}`));

  let stopping = false;
  const requestStop = (why: string) => {
    if (stopping) return;
    stopping = true;
    say(`stopping (${why})`);
    void sb.stop();
  };
  const onSignal = (signal: NodeJS.Signals) => requestStop(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let timer: NodeJS.Timeout | undefined;
  try {
    try {
      await sb.start();
    } catch (e) {
      const cause = e instanceof SandboxStartError ? e.cause : e;
      process.stderr.write(`vmactor run: ${(e as Error).message}\n`);
      if (cause instanceof Error && cause !== e) process.stderr.write(`  cause: ${cause.name}\n`);
      const out = await sb.stopped;
      return RUN_EXIT_CODES[out.stopReason];
    }
    const [qemuPid, virtiofsdPid] = sb.getPids();
    say(`qemu pid ${qemuPid}${virtiofsdPid ? `, virtiofsd pid ${virtiofsdPid}` : ''}; waiting for the guest`);
    const con = sb.console$;
    con?.subscribe((line) => {
      if (line.trim()) say(`console| ${line}`);
    });
    const readiness = (async () => {
      const agent = await sb.agent();
      const { release } = await agent.waitReady({ timeout: 120_000 });
      say(`guest ready: VMACTOR-GUEST-READY ${release}`);
      if (share !== undefined) await exerciseShare(sb, share, say);
      if (values.pause) await pauseAndResume(sb, say);
      if (seconds !== undefined) {
        say(`running for ${seconds} s (Ctrl-C stops earlier)`);
        timer = setTimeout(() => requestStop(`--for ${seconds}`), seconds * 1000);
      } else {
        say('running; Ctrl-C stops');
      }
    })();
    readiness.catch((e: unknown) => {
      if (stopping || sb.phase === 'stopping' || sb.phase === 'stopped') return;
      process.stderr.write(`vmactor run: ${(e as Error).message}\n`);
      requestStop('guest error');
    });
    const out = await sb.stopped;
    const code = RUN_EXIT_CODES[out.stopReason];
    say(`stopped: ${out.stopReason} (exit ${code})`);
    return code;
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
