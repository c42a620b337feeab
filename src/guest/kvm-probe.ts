// Decides whether KVM really runs a Linux guest here, with a hard deadline; else TCG.
import { spawn } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { guestArtifacts } from './paths.js';

/** The accelerator a sandbox should use on this host. */
export type Accelerator = 'kvm' | 'tcg';

/** The verdict of {@link probeAcceleratorDetails} with the reason behind it. */
export interface AcceleratorProbe {
  readonly accel: Accelerator;
  readonly reason: string;
  readonly ms: number;
}

/** Options of the accelerator probe. */
export interface ProbeOptions {
  /** QEMU binary. Default `qemu-system-x86_64`. */
  readonly qemu?: string;
  /** Kernel to boot for the proof. Default: the `cloud` default guest's kernel. */
  readonly kernel?: string;
  /** Hard deadline for the probe VM, in ms. Default 5000. */
  readonly deadlineMs?: number;
  /** CPU model of the probe VM. Default `host` (what Kata uses with KVM). */
  readonly cpu?: string;
  /** Accelerator the probe VM runs under. Default `kvm`; `tcg` only exercises the probe itself (tests). */
  readonly probeAccel?: Accelerator;
  /** Ignore the per-process cached verdict. */
  readonly fresh?: boolean;
  /** Environment (for `VMACTOR_ACCEL=kvm|tcg`, which skips the probe). */
  readonly env?: NodeJS.ProcessEnv;
}

let cached: Promise<AcceleratorProbe> | undefined;

/**
 * Probes KVM by booting a real Linux kernel under `-accel kvm -cpu host` (Kata's KVM CPU model)
 * and waiting for the kernel's first console line. QMP reaching `running` is not enough: on
 * some hosts /dev/kvm opens and the firmware runs, but a Linux guest hangs or QEMU aborts on an
 * MSR. The probe VM is killed by PID when the line arrives, when it exits, or at the deadline,
 * so it never hangs. Without /dev/kvm, or without a kernel to boot, the verdict is `tcg`.
 * The verdict is cached per process; `VMACTOR_ACCEL=kvm|tcg` overrides it.
 *
 * @example
 * const { accel, reason } = await probeAcceleratorDetails();
 * const argv = ['-machine', `q35,accel=${accel}`];
 */
export function probeAcceleratorDetails(options: ProbeOptions = {}): Promise<AcceleratorProbe> {
  if (options.fresh || options.kernel || options.qemu || options.cpu || options.probeAccel)
    return runProbe(options);
  cached ??= runProbe(options);
  return cached;
}

/**
 * `kvm` when KVM demonstrably boots a Linux guest here, else `tcg`. Never hangs (hard deadline).
 *
 * @example
 * const accel = await probeAccelerator(); // 'tcg' on hosts where /dev/kvm cannot run a guest
 */
export async function probeAccelerator(options: ProbeOptions = {}): Promise<Accelerator> {
  return (await probeAcceleratorDetails(options)).accel;
}

async function runProbe(options: ProbeOptions): Promise<AcceleratorProbe> {
  const started = Date.now();
  const verdict = (accel: Accelerator, reason: string): AcceleratorProbe => ({
    accel,
    reason,
    ms: Date.now() - started,
  });
  const forced = (options.env ?? process.env).VMACTOR_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return verdict(forced, `VMACTOR_ACCEL=${forced}`);
  const probeAccel = options.probeAccel ?? 'kvm';
  if (probeAccel === 'kvm') {
    try {
      await access('/dev/kvm', constants.R_OK | constants.W_OK);
    } catch {
      return verdict('tcg', '/dev/kvm is missing or not accessible');
    }
  }
  const kernel = options.kernel ?? guestArtifacts('cloud').kernel;
  if (!existsSync(kernel)) {
    return verdict('tcg', `no kernel to prove KVM with (${kernel}); run \`vmactor setup\``);
  }
  const outcome = await bootProbe({
    qemu: options.qemu ?? 'qemu-system-x86_64',
    kernel,
    deadlineMs: options.deadlineMs ?? 5000,
    accel: probeAccel,
    cpu: options.cpu ?? 'host',
  });
  return outcome.ok ? verdict(probeAccel, outcome.detail) : verdict('tcg', outcome.detail);
}

/** What happened to the probe VM. `pid` is the QEMU process that was started (and reaped). */
function bootProbe(o: {
  qemu: string;
  kernel: string;
  deadlineMs: number;
  accel: Accelerator;
  cpu: string;
}): Promise<{ ok: boolean; detail: string }> {
  const { qemu, kernel, deadlineMs } = o;
  return new Promise((resolve) => {
    const argv = [
      '-accel',
      o.accel,
      '-machine',
      'q35',
      '-cpu',
      o.cpu,
      '-m',
      '256',
      '-smp',
      '1',
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-no-reboot',
      '-serial',
      'stdio',
      '-kernel',
      kernel,
      '-append',
      'console=ttyS0 earlyprintk=serial,ttyS0,115200 loglevel=8 panic=-1',
    ];
    const child = spawn(qemu, argv, { stdio: ['ignore', 'pipe', 'pipe'], shell: false });
    let out = '';
    let err = '';
    let settled = false;
    const finish = (ok: boolean, detail: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) {
        // Resolve only once the killed QEMU is reaped, so callers never see a leftover process.
        child.once('exit', () => resolve({ ok, detail }));
        child.kill('SIGKILL');
      } else resolve({ ok, detail });
    };
    const timer = setTimeout(
      () => finish(false, `KVM guest printed nothing within ${deadlineMs} ms (killed pid ${child.pid})`),
      deadlineMs,
    );
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (/Linux version \d/.test(out))
        finish(true, `a Linux guest booted under -accel ${o.accel} -cpu ${o.cpu}`);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    child.on('error', (e) => finish(false, `cannot run ${qemu}: ${e.message}`));
    child.on('exit', (code, signal) =>
      finish(false, `KVM probe QEMU exited (${signal ?? code}) before the guest booted: ${lastLine(err)}`),
    );
  });
}

function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return lines.slice(-2).join(' / ') || '(no stderr)';
}
