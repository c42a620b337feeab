// The line protocol between the host and the default guest's init over the agent channel.
//
// Transport: the virtio-serial port named `agent.channel.0` (Kata's agent channel name), i.e.
// `-device virtio-serial-pci -device virtserialport,chardev=agent0,name=agent.channel.0`. If the
// guest has no such port it serves on /dev/ttyS1 when that UART exists (a second `-serial`),
// otherwise it only prints the ready line on the console.
//
// Guest → host, unsolicited: `VMACTOR-GUEST-READY <kernel-release>\n`, printed on /dev/console
// (ttyS0) and on the agent channel. The guest re-sends it each time a host (re)connects.
// Host → guest: `<id> <command> [args...]\n` — `id` is `[A-Za-z0-9_-]{1,32}`, words separated by
// single spaces. Only `write-block`'s last argument (the text) may contain spaces.
// Guest → host: `<id> ok <single-line JSON>\n` or `<id> err <message>\n`.
// Requests are served one at a time, in order of arrival.
// Guest → host, unsolicited: `event <single-line JSON object>\n` for kernel uevents about disks,
// CPUs, memory blocks and NICs (see {@link GuestEvent}); never interleaved with a reply line.
// `event` is therefore not a valid request id.

/** Name of the virtio-serial port the guest agent listens on (Kata's agent channel name). */
export const AGENT_CHANNEL_NAME = 'agent.channel.0';

/** Prefix of the line the guest prints once it serves requests. */
export const READY_PREFIX = 'VMACTOR-GUEST-READY';

/** A block device as `blk` reports it (from /sys/block, loop/ram devices excluded). */
export interface GuestBlockDevice {
  readonly name: string;
  readonly sizeBytes: number;
  /** `/sys/block/<name>/serial` (virtio-blk `serial=`), '' when none. */
  readonly serial: string;
  readonly readOnly: boolean;
}

/** CPU state as `cpus` / `online-cpus` report it. */
export interface GuestCpus {
  /** Number of online CPUs. */
  readonly online: number;
  /** `/sys/devices/system/cpu/online`, e.g. `0-1`. */
  readonly onlineList: string;
  /** `/sys/devices/system/cpu/present`. */
  readonly presentList: string;
  /** `/sys/devices/system/cpu/possible`. */
  readonly possibleList: string;
}

/** Memory state as `mem` / `online-mem` report it. */
export interface GuestMemory {
  /** `MemTotal` from /proc/meminfo, in KiB. */
  readonly memTotalKiB: number;
  /** Memory blocks in /sys/devices/system/memory by state. */
  readonly blocksOnline: number;
  readonly blocksOffline: number;
}

/** A network interface as `net` reports it. */
export interface GuestNetInterface {
  readonly name: string;
  readonly mac: string;
  readonly operstate: string;
}

/** Fields every {@link GuestEvent} carries, straight from the kernel uevent. */
export interface GuestEventBase {
  /** `DEVPATH` under /sys, e.g. `/devices/system/cpu/cpu1`. */
  readonly devpath: string;
  /** The kernel's uevent `SEQNUM` (0 if absent): increases across all events of one boot. */
  readonly seqnum: number;
}

/** A whole disk (not a partition; no loop/ram devices) appeared, changed (e.g. resized) or went away. */
export type GuestBlockEvent = GuestEventBase &
  (
    | {
        readonly subsystem: 'block';
        readonly action: 'add' | 'change';
        /** `DEVNAME`, e.g. `vdb`. */
        readonly devname: string;
        readonly sizeBytes: number;
        /** `/sys/block/<devname>/serial` (virtio-blk `serial=`), '' when none. */
        readonly serial: string;
        readonly readOnly: boolean;
      }
    | { readonly subsystem: 'block'; readonly action: 'remove'; readonly devname: string }
  );

/** A CPU was hot-added (the guest onlines it at once), onlined, offlined or removed. */
export interface GuestCpuEvent extends GuestEventBase {
  readonly subsystem: 'cpu';
  readonly action: 'add' | 'remove' | 'online' | 'offline';
  /** The CPU number (`cpuN`). */
  readonly cpu: number;
  /** Online CPUs when the event was handled. */
  readonly online: number;
  /** Set on `add` when the guest could not online the new CPU. */
  readonly error?: string;
}

/** A memory block was added, onlined, offlined or removed. */
export interface GuestMemoryEvent extends GuestEventBase {
  readonly subsystem: 'memory';
  readonly action: 'add' | 'remove' | 'online' | 'offline';
  /** The memory block number (`memoryN`). */
  readonly block: number;
  /** `MemTotal` from /proc/meminfo when the event was handled, in KiB. */
  readonly memTotalKiB: number;
  /** Set on `add` when the block was offline and the guest could not online it. */
  readonly error?: string;
}

/** A network interface (other than `lo`) appeared or went away. */
export type GuestNetEvent = GuestEventBase &
  (
    | { readonly subsystem: 'net'; readonly action: 'add'; readonly ifname: string; readonly mac: string }
    | { readonly subsystem: 'net'; readonly action: 'remove'; readonly ifname: string }
  );

/** An unsolicited `event <JSON>` line: a kernel uevent the guest reports. */
export type GuestEvent = GuestBlockEvent | GuestCpuEvent | GuestMemoryEvent | GuestNetEvent;

/**
 * A container process's output chunk or exit (`proc-start`), sent as `event {"subsystem":"proc",...}`.
 * Kept apart from {@link GuestEvent} (kernel uevents): it is delivered on `procEvents$`.
 * Output of one process arrives in order and always before its `exit`.
 */
export type GuestProcEvent =
  | {
      readonly subsystem: 'proc';
      readonly action: 'output';
      readonly key: string;
      readonly stream: 'stdout' | 'stderr';
      readonly base64: string;
    }
  | {
      readonly subsystem: 'proc';
      readonly action: 'exit';
      readonly key: string;
      readonly pid: number;
      /** The shell's `wait` status: the exit code, or 128 + the signal number. */
      readonly status: number;
      /** SIGKILLed while the container cgroup counted an OOM kill (absent from older guests). */
      readonly oom?: boolean;
    };

/** The word that starts an event line. Reserved: never a request id. */
export const EVENT_PREFIX = 'event';

/** Every command, its arguments and the JSON payload of its `ok` reply. */
export interface GuestCommands {
  ping: { args: []; result: { pong: true; release: string } };
  blk: { args: []; result: GuestBlockDevice[] };
  cpus: { args: []; result: GuestCpus };
  /**
   * Onlines every offline present CPU; with `want`, waits (≤5 s, in the guest, woken by its uevent
   * handler) until that many are online. Hot-added CPUs are onlined by the guest on their own.
   */
  'online-cpus': { args: [] | [want: number]; result: GuestCpus };
  mem: { args: []; result: GuestMemory };
  /** Onlines offline memory blocks; with `minTotalKiB`, waits (≤5 s, woken by uevents) until MemTotal reaches it. */
  'online-mem': { args: [] | [minTotalKiB: number]; result: GuestMemory };
  net: { args: []; result: GuestNetInterface[] };
  mount: { args: [fstype: 'virtiofs' | '9p', tag: string, dir: string]; result: { mounted: string } };
  read: { args: [path: string]; result: { base64: string } };
  'write-block': { args: [dev: string, text: string]; result: { written: number } };
  'read-block': { args: [dev: string, length: number]; result: { base64: string } };
  poweroff: { args: []; result: { poweroff: true } };
  panic: { args: []; result: { panic: true } };
  ticks: { args: []; result: { uptime: number; requests: number } };
  /** Writes `text` to a file under the guest's /tmp tmpfs (created or replaced). */
  'write-file': { args: [path: string, text: string]; result: { written: number } };
  /** Mixes base64-encoded bytes into the guest kernel's RNG (written to /dev/urandom), as Kata's factory does after a clone boots. */
  reseed: { args: [base64: string]; result: { reseeded: number } };
  /** Sets the guest clock to epoch seconds (Kata's factory syncs the clock of a clone). */
  'set-clock': { args: [epochSeconds: number]; result: { now: number } };
  /**
   * Starts a container process from a spec (base64 of `<field> <value>` lines, `%` and newline
   * escaped: root, cwd, uid, gid, an optional memlimit, env, arg) under `key`, in the container
   * cgroup; resolves once it runs, with its guest pid. Its output and exit arrive as
   * {@link GuestProcEvent}s.
   */
  'proc-start': { args: [key: string, specBase64: string]; result: { pid: number } };
  /** Sends a signal (by number) to the running process `key`. */
  'proc-kill': { args: [key: string, signal: number]; result: { signalled: number } };
  /** The container cgroup's counters (cgroup v2 file names; a `max` limit reads 0). */
  'ctr-stats': { args: []; result: GuestContainerStats };
}

/** What `ctr-stats` reports: values of the container cgroup's files, by file name. */
export interface GuestContainerStats {
  readonly 'memory.current': number;
  readonly 'memory.max': number;
  readonly 'pids.current': number;
  readonly 'pids.max': number;
  readonly 'memory.stat'?: Readonly<Record<string, number>>;
  readonly 'cpu.stat'?: Readonly<Record<string, number>>;
  readonly 'memory.events'?: Readonly<Record<string, number>>;
}

/** A command name of the guest protocol. */
export type GuestCommand = keyof GuestCommands;

/** All command names, for validation. */
export const GUEST_COMMANDS: readonly GuestCommand[] = [
  'ping',
  'blk',
  'cpus',
  'online-cpus',
  'mem',
  'online-mem',
  'net',
  'mount',
  'read',
  'write-block',
  'read-block',
  'poweroff',
  'panic',
  'ticks',
  'write-file',
  'reseed',
  'set-clock',
  'proc-start',
  'proc-kill',
  'ctr-stats',
];

/** One parsed line from the guest. */
export type GuestLine =
  | { readonly kind: 'ready'; readonly release: string }
  | { readonly kind: 'ok'; readonly id: string; readonly result: unknown }
  | { readonly kind: 'err'; readonly id: string; readonly message: string }
  | { readonly kind: 'event'; readonly event: GuestEvent }
  | { readonly kind: 'proc'; readonly event: GuestProcEvent }
  | { readonly kind: 'invalid'; readonly line: string; readonly reason: string };

const ID_RE = /^[A-Za-z0-9_-]{1,32}$/;

/** Parses one line (without its newline) received from the guest. Never throws. */
export function parseGuestLine(raw: string): GuestLine {
  const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
  if (line === READY_PREFIX || line.startsWith(`${READY_PREFIX} `)) {
    return { kind: 'ready', release: line.slice(READY_PREFIX.length + 1).trim() };
  }
  if (line.startsWith(`${EVENT_PREFIX} `)) return parseEventLine(line, line.slice(EVENT_PREFIX.length + 1));
  const first = line.indexOf(' ');
  if (first <= 0) return { kind: 'invalid', line, reason: 'expected `<id> ok|err ...`' };
  const id = line.slice(0, first);
  if (!ID_RE.test(id)) return { kind: 'invalid', line, reason: `bad id \`${id}\`` };
  const rest = line.slice(first + 1);
  const second = rest.indexOf(' ');
  const status = second < 0 ? rest : rest.slice(0, second);
  const payload = second < 0 ? '' : rest.slice(second + 1);
  if (status === 'err') return { kind: 'err', id, message: payload };
  if (status !== 'ok') return { kind: 'invalid', line, reason: `expected ok or err, got \`${status}\`` };
  try {
    return { kind: 'ok', id, result: JSON.parse(payload) as unknown };
  } catch (cause) {
    return { kind: 'invalid', line, reason: `reply payload is not JSON: ${(cause as Error).message}` };
  }
}

type Fields = Readonly<Record<string, unknown>>;

const isString = (v: unknown): v is string => typeof v === 'string';
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Checks that `o` has each listed field with the right type; returns the first bad one. */
function badField(o: Fields, checks: Readonly<Record<string, (v: unknown) => boolean>>): string | undefined {
  return Object.entries(checks).find(([k, check]) => !check(o[k]))?.[0];
}

/** Narrows a parsed event payload to a {@link GuestEvent}, or returns why it is not one. */
function toGuestEvent(o: Fields): GuestEvent | string {
  const base = badField(o, { devpath: isString, seqnum: isCount, action: isString });
  if (base) return `field \`${base}\` is missing or has the wrong type`;
  const oneOf = (allowed: readonly string[]) => (v: unknown) => isString(v) && allowed.includes(v);
  const optionalString = (v: unknown) => v === undefined || isString(v);
  let bad: string | undefined;
  switch (o.subsystem) {
    case 'block':
      bad =
        o.action === 'remove'
          ? badField(o, { devname: isString })
          : badField(o, {
              action: oneOf(['add', 'change']),
              devname: isString,
              sizeBytes: isCount,
              serial: isString,
              readOnly: (v) => typeof v === 'boolean',
            });
      break;
    case 'cpu':
      bad = badField(o, {
        action: oneOf(['add', 'remove', 'online', 'offline']),
        cpu: isCount,
        online: isCount,
        error: optionalString,
      });
      break;
    case 'memory':
      bad = badField(o, {
        action: oneOf(['add', 'remove', 'online', 'offline']),
        block: isCount,
        memTotalKiB: isCount,
        error: optionalString,
      });
      break;
    case 'net':
      bad =
        o.action === 'remove'
          ? badField(o, { ifname: isString })
          : badField(o, { action: oneOf(['add']), ifname: isString, mac: isString });
      break;
    default:
      return `unknown subsystem \`${String(o.subsystem)}\``;
  }
  if (bad) return `field \`${bad}\` of a ${String(o.subsystem)} event is missing or has the wrong type`;
  // Every field of the member selected by `subsystem` (and `action`) was checked above.
  return o as unknown as GuestEvent;
}

function parseEventLine(line: string, payload: string): GuestLine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch (cause) {
    return { kind: 'invalid', line, reason: `event payload is not JSON: ${(cause as Error).message}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { kind: 'invalid', line, reason: 'event payload is not a JSON object' };
  }
  if ((parsed as Fields).subsystem === 'proc') return parseProcEvent(line, parsed as Fields);
  const event = toGuestEvent(parsed as Fields);
  return typeof event === 'string' ? { kind: 'invalid', line, reason: event } : { kind: 'event', event };
}

function parseProcEvent(line: string, o: Fields): GuestLine {
  const isKey = (v: unknown) => isString(v) && ID_RE.test(v);
  const bad =
    o.action === 'output'
      ? badField(o, {
          key: isKey,
          stream: (v) => v === 'stdout' || v === 'stderr',
          base64: (v) => isString(v) && /^[A-Za-z0-9+/=]*$/.test(v),
        })
      : o.action === 'exit'
        ? badField(o, {
            key: isKey,
            pid: isCount,
            status: isCount,
            oom: (v) => v === undefined || typeof v === 'boolean',
          })
        : 'action';
  if (bad)
    return {
      kind: 'invalid',
      line,
      reason: `field \`${bad}\` of a proc event is missing or has the wrong type`,
    };
  // Every field of the member selected by `action` was checked above.
  return { kind: 'proc', event: o as unknown as GuestProcEvent };
}

/**
 * Formats a request line, or returns the reason it cannot be sent.
 * Arguments must be non-empty and free of newlines and NULs; only the last argument of
 * `write-block` and `write-file` may contain spaces.
 */
export function formatRequest(
  id: string,
  command: string,
  args: readonly (string | number)[],
): { ok: true; line: string } | { ok: false; reason: string } {
  if (!ID_RE.test(id) || id === EVENT_PREFIX) {
    return {
      ok: false,
      reason: `Expected \`id\` to match ${ID_RE} and not be \`${EVENT_PREFIX}\`, got \`${id}\``,
    };
  }
  if (!(GUEST_COMMANDS as readonly string[]).includes(command)) {
    return {
      ok: false,
      reason: `Expected \`command\` to be one of ${GUEST_COMMANDS.join(', ')}, got \`${command}\``,
    };
  }
  const words: string[] = [];
  for (const [i, a] of args.entries()) {
    const s = String(a);
    const last = i === args.length - 1;
    const spacesAllowed = (command === 'write-block' || command === 'write-file') && last;
    if (s.length === 0)
      return { ok: false, reason: `Expected argument ${i + 1} of \`${command}\` to be non-empty` };
    if (/[\n\r\0]/.test(s)) {
      return { ok: false, reason: `Expected argument ${i + 1} of \`${command}\` to have no newline or NUL` };
    }
    if (!spacesAllowed && /\s/.test(s)) {
      return {
        ok: false,
        reason: `Expected argument ${i + 1} of \`${command}\` to have no whitespace, got \`${s}\``,
      };
    }
    words.push(s);
  }
  return { ok: true, line: `${[id, command, ...words].join(' ')}\n` };
}
