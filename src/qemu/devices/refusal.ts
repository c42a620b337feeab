// QEMU start-up refusals: maps QEMU's stderr (the process exited before QMP was up) to a typed
// error, so a missing host capability (VFIO, vhost-vsock, vhost-net, hugepages) reads as such.
import { VmactorError } from '../../errors/vmactor-error.js';

/** One parsed QEMU error line: `qemu-system-x86_64: -device {"driver":"vfio-pci",...}: <message>`. */
export interface QemuErrorLine {
  /** The whole line. */
  readonly line: string;
  /** The option QEMU blamed, e.g. `-device vfio-pci,host=0000:ff:1f.7` (when it named one). */
  readonly option: string | undefined;
  /** The message after the program name and option. */
  readonly message: string;
}

/** Fields common to every refusal. */
abstract class QemuRefusalBase extends VmactorError {
  /** QEMU's complete stderr. */
  readonly stderr: string;
  /** The line that decided the classification (or the first error line). */
  readonly detail: string;
  /** The option QEMU blamed, when it named one. */
  readonly option: string | undefined;

  constructor(what: string, stderr: string, at: QemuErrorLine | undefined) {
    super(at ? `${what}: ${at.message}` : `${what}${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
    this.stderr = stderr;
    this.detail = at?.line ?? stderr.trim();
    this.option = at?.option;
  }
}

/** VFIO is not usable: no such host device, no IOMMU group, no /dev/vfio. */
export class QemuVfioUnavailableError extends QemuRefusalBase {
  override readonly name = 'QemuVfioUnavailableError' as const;
  readonly code = 'ERR_QEMU_VFIO_UNAVAILABLE' as const;
}

/** /dev/vhost-vsock is missing or not accessible. */
export class QemuVhostVsockUnavailableError extends QemuRefusalBase {
  override readonly name = 'QemuVhostVsockUnavailableError' as const;
  readonly code = 'ERR_QEMU_VHOST_VSOCK_UNAVAILABLE' as const;
}

/** vhost-net was asked for but /dev/vhost-net is missing or not accessible. */
export class QemuVhostNetUnavailableError extends QemuRefusalBase {
  override readonly name = 'QemuVhostNetUnavailableError' as const;
  readonly code = 'ERR_QEMU_VHOST_NET_UNAVAILABLE' as const;
}

/** Guest RAM on hugepages could not be set up (no hugetlbfs mount, no free huge pages). */
export class QemuHugepagesUnavailableError extends QemuRefusalBase {
  override readonly name = 'QemuHugepagesUnavailableError' as const;
  readonly code = 'ERR_QEMU_HUGEPAGES_UNAVAILABLE' as const;
}

/** KVM cannot run this VM here: /dev/kvm missing or unusable, or the host refuses the vCPU setup. */
export class QemuKvmUnavailableError extends QemuRefusalBase {
  override readonly name = 'QemuKvmUnavailableError' as const;
  readonly code = 'ERR_QEMU_KVM_UNAVAILABLE' as const;
}

/** Any other start-up refusal; `stderr` carries QEMU's words. */
export class QemuRefusedError extends QemuRefusalBase {
  override readonly name = 'QemuRefusedError' as const;
  readonly code = 'ERR_QEMU_REFUSED' as const;
}

/** The typed errors `classifyQemuStartError` returns. */
export type QemuRefusal =
  | QemuVfioUnavailableError
  | QemuVhostVsockUnavailableError
  | QemuVhostNetUnavailableError
  | QemuHugepagesUnavailableError
  | QemuKvmUnavailableError
  | QemuRefusedError;

/** What the caller knows about the argv that QEMU refused. */
export interface RefusalHints {
  /**
   * Guest RAM was asked on hugepages. QEMU's "unable to map backing store for guest RAM" does not
   * say why; with this hint it is read as a hugepage shortage.
   */
  readonly hugePages?: boolean;
}

// The blamed option is key=value (`-device vfio-pci,host=...`) or JSON (`-device {"driver":...}`,
// which holds `:` but never `: `, as JSON.stringify writes no spaces).
const LINE_RE = /^(?<prog>[^\s:]+): (?:(?<opt>-[a-z][a-z-]* (?:\{[^\n]*?\}|[^\n]*?)): )?(?<msg>.*)$/;

/** True when the blamed option is a `-device` of a vfio driver, in either syntax. */
function isVfioOption(option: string | undefined): boolean {
  return /^-device (vfio-|\{"driver":"vfio-)/.test(option ?? '');
}

/** Splits QEMU's stderr into its `program: [option: ]message` lines. */
export function parseQemuErrorLines(stderr: string): QemuErrorLine[] {
  const out: QemuErrorLine[] = [];
  for (const raw of stderr.split('\n')) {
    const line = raw.trimEnd();
    if (line === '') continue;
    const m = LINE_RE.exec(line);
    if (m?.groups) {
      out.push({ line, option: m.groups.opt, message: m.groups.msg ?? line });
    } else {
      out.push({ line, option: undefined, message: line });
    }
  }
  return out;
}

interface Rule {
  readonly test: (l: QemuErrorLine, hints: RefusalHints) => boolean;
  readonly make: (stderr: string, at: QemuErrorLine) => QemuRefusal;
}

const RULES: readonly Rule[] = [
  {
    // "vhost-vsock: failed to open vhost device: No such file or directory"; with a `vhostfd` that
    // is not a vhost-vsock device: "vhost_set_owner failed: Inappropriate ioctl for device"
    test: (l) =>
      /vhost-vsock/i.test(l.line) &&
      /open vhost device|\/dev\/vhost-vsock|vhost_set_owner failed/i.test(l.message),
    make: (s, at) => new QemuVhostVsockUnavailableError('vhost-vsock is not available on this host', s, at),
  },
  {
    // "tap: open vhost char device failed: No such file or directory" (a warning, then QEMU 7.2 may
    // abort), "vhost-net requested but could not be initialized", "vhost-net support is not compiled in"
    test: (l) =>
      /open vhost char device failed|vhost-net requested but could not|vhost-net support is not/i.test(
        l.line,
      ),
    make: (s, at) => new QemuVhostNetUnavailableError('vhost-net is not available on this host', s, at),
  },
  {
    // "vfio /sys/bus/pci/devices/0000:ff:1f.7: no such host device: No such file or directory",
    // "vfio 0000:01:00.0: no iommu_group found", "vfio: failed to open /dev/vfio/vfio"
    // vfio-ccw: "Host device '/sys/bus/mdev/devices/<uuid>' not found"; vfio-ap without the AP
    // facility (s390x KVM only): "No 'ap-bus' bus found for device 'vfio-ap'"
    test: (l) =>
      /^vfio\b.*(no such host device|iommu_group|not viable|failed to (open|get|set))/i.test(l.message) ||
      /\/dev\/vfio/.test(l.message) ||
      (isVfioOption(l.option) && /^Host device '.*' not found/.test(l.message)) ||
      /No 'ap-bus' bus found for device 'vfio-ap'/.test(l.message),
    make: (s, at) => new QemuVfioUnavailableError('VFIO device is not available on this host', s, at),
  },
  {
    test: (l, h) =>
      /hugepage|hugetlb/i.test(l.line) ||
      (h.hugePages === true &&
        /backing store .*guest RAM|unable to map backing store|Cannot allocate memory/i.test(l.line)),
    make: (s, at) => new QemuHugepagesUnavailableError('hugepages are not available on this host', s, at),
  },
  {
    // "Could not access KVM kernel module: No such file or directory", "failed to initialize kvm:
    // Permission denied", and a host whose KVM opens but refuses the vCPU's MSRs: "error: failed to
    // set MSR 0x10a to 0x69" followed by QEMU 7.2's abort in `kvm_buf_set_msrs`
    test: (l) =>
      /Could not access KVM kernel module|failed to initialize kvm|failed to set MSR|kvm_buf_set_msrs/i.test(
        l.line,
      ),
    make: (s, at) => new QemuKvmUnavailableError('KVM cannot run this VM on this host', s, at),
  },
];

/**
 * Maps QEMU's stderr, from a QEMU that exited during start-up, to a typed refusal: the first line
 * naming a missing host capability wins; otherwise `QemuRefusedError` with the first error line.
 *
 * @example
 * const err = classifyQemuStartError(
 *   'qemu-system-x86_64: -device vhost-vsock-pci,id=vsock0,guest-cid=3: vhost-vsock: failed to open vhost device: No such file or directory\n');
 * err.code; // 'ERR_QEMU_VHOST_VSOCK_UNAVAILABLE'
 * err.option; // '-device vhost-vsock-pci,id=vsock0,guest-cid=3'
 */
export function classifyQemuStartError(stderr: string, hints: RefusalHints = {}): QemuRefusal {
  const lines = parseQemuErrorLines(stderr);
  for (const rule of RULES) {
    const at = lines.find((l) => rule.test(l, hints));
    if (at) return rule.make(stderr, at);
  }
  const first = lines.find((l) => !/^qemu-system-[^:]+: terminating on signal/.test(l.line)) ?? lines[0];
  return new QemuRefusedError('QEMU refused to start', stderr, first);
}
