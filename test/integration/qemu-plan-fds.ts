// Test helper: starts a command (QEMU) inside a network namespace of the test's own with real
// fds at given numbers: tap queues opened on /dev/net/tun there (TUNSETIFF, so the taps live in
// that namespace), and /dev/null where a vhost-net / vhost-vsock fd goes (this host has neither
// device, so QEMU's real refusal of that fd is what the test sees). Node has no ioctl, so a short
// python3 program opens them, moves each to its number and execs the command (same pid).
import { execFileSync } from 'node:child_process';
import { hostBinary } from '../helpers/env.js';

/** One fd QEMU must find open at `fd`. */
export interface FdSlot {
  readonly fd: number;
  /** `tap`: a queue of tap `name`; `listen`: a Unix socket listening at `path`; else /dev/null there. */
  readonly kind: 'tap' | 'listen' | 'vhost-net' | 'vhost-vsock';
  /** Socket path (kind `listen`). */
  readonly path?: string;
  /** Tap name (kind `tap`); queues of one NIC share it (multiqueue). */
  readonly name?: string;
  /** Open the tap multiqueue (IFF_MULTI_QUEUE), needed when a NIC has several queues. */
  readonly mq?: boolean;
}

// TUNSETIFF = 0x400454ca; IFF_TAP 0x0002 | IFF_NO_PI 0x1000 | IFF_VNET_HDR 0x4000 [| IFF_MULTI_QUEUE 0x0100].
// Every fd is first parked above 200 so that moving one into place never closes another.
const SCRIPT = `
import fcntl, json, os, socket, struct, sys
held = []
for i, e in enumerate(json.loads(sys.argv[1])):
    if e['kind'] == 'tap':
        f = os.open('/dev/net/tun', os.O_RDWR)
        flags = 0x0002 | 0x1000 | 0x4000 | (0x0100 if e.get('mq') else 0)
        fcntl.ioctl(f, 0x400454ca, struct.pack('16sH', e['name'].encode(), flags))
    elif e['kind'] == 'listen':
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(e['path'])
        s.listen(8)
        f = os.dup(s.fileno())
        s.close()
    else:
        f = os.open('/dev/null', os.O_RDWR)
    held.append((fcntl.fcntl(f, fcntl.F_DUPFD, 200 + i), e['fd']))
    os.close(f)
for src, dst in held:
    os.dup2(src, dst)
    os.close(src)
os.execvp(sys.argv[2], sys.argv[2:])
`;

const IP = hostBinary('ip');

/** The prefix that runs a command with `slots` open at their numbers (no namespace change). */
export function withFds(slots: readonly FdSlot[]): string[] {
  return ['python3', '-c', SCRIPT, JSON.stringify(slots)];
}

/** A network namespace made for one test, removed by `remove()`. */
export interface TestNetns {
  readonly name: string;
  /** The prefix that runs a command in it with `slots` open: `[...wrap(slots), qemu, ...args]`. */
  wrap(slots: readonly FdSlot[]): string[];
  /** Creates a tap device by name in it (for a NIC QEMU opens by `ifname`). */
  addTap(name: string): void;
  remove(): void;
}

let made = 0;

/** Creates a uniquely named network namespace (`vmactor-fds-<pid>-<n>`). */
export function createTestNetns(): TestNetns {
  if (IP === undefined) throw new Error('ip (iproute2) is required');
  const name = `vmactor-fds-${process.pid}-${++made}`;
  execFileSync(IP, ['netns', 'add', name]);
  return {
    name,
    wrap: (slots) => [IP, 'netns', 'exec', name, ...withFds(slots)],
    addTap: (tap) => execFileSync(IP, ['-n', name, 'tuntap', 'add', 'dev', tap, 'mode', 'tap']),
    remove: () => execFileSync(IP, ['netns', 'del', name]),
  };
}

/** The fd slots of tap and vhost fds as a builder or the plan numbered them. */
export function slotsOf(
  fds: readonly { fd: number; purpose: 'tap' | 'vhost-net' | 'vhost-vsock'; deviceId: string }[],
): FdSlot[] {
  const taps = new Map<string, number>();
  for (const f of fds) if (f.purpose === 'tap') taps.set(f.deviceId, (taps.get(f.deviceId) ?? 0) + 1);
  return fds.map((f) =>
    f.purpose === 'tap'
      ? { fd: f.fd, kind: 'tap', name: `vt-${f.deviceId}`.slice(0, 15), mq: (taps.get(f.deviceId) ?? 0) > 1 }
      : { fd: f.fd, kind: f.purpose },
  );
}
