// Phase two inside the guest: what the default guest's agent reports, re-asked with backoff until a deadline.
import type { GuestAgentClient } from '../guest/agent-client.js';
import { HotplugAbortedError, HotplugTimeoutError } from './errors.js';

/** A block device as the guest sees it. */
export interface GuestDisk {
  readonly name: string;
  readonly serial: string;
  readonly sizeBytes: number;
}

/** A network interface as the guest sees it. */
export interface GuestNic {
  readonly name: string;
  /** Lower case. */
  readonly mac: string;
}

/** What phase two asks the guest (the default guest's agent implements it; so could Kata's). */
export interface GuestProbe {
  blockDevices(signal?: AbortSignal): Promise<readonly GuestDisk[]>;
  /** Online CPUs (hot-added CPUs are brought online first). */
  onlineCpus(signal?: AbortSignal): Promise<number>;
  /** MemTotal in MiB (hot-added memory blocks are brought online first). */
  memTotalMiB(signal?: AbortSignal): Promise<number>;
  /** The guest's NICs: interface name and MAC (lower case). */
  nics(signal?: AbortSignal): Promise<readonly GuestNic[]>;
  /**
   * Resolves on the guest's next hotplug event (a kernel uevent it reports), when it reports them:
   * phase two then re-asks on that event instead of on a timer.
   */
  changed?(signal: AbortSignal): Promise<void>;
}

/**
 * A {@link GuestProbe} over the default guest's agent (`blk`, `online-cpus`, `online-mem`, `net`).
 *
 * @example
 * const guest = agentGuestProbe(await sandbox.agent());
 * await runOperation({ ...ctx, guest }, { kind: 'hotplug', device: { kind: 'block', id: 'd1', file } });
 */
export function agentGuestProbe(
  agent: Pick<GuestAgentClient, 'request'> & Partial<Pick<GuestAgentClient, 'events$'>>,
): GuestProbe {
  const opts = (signal?: AbortSignal) => ({ timeout: 10_000, ...(signal ? { signal } : {}) });
  const events$ = agent.events$;
  return {
    ...(events$
      ? {
          changed: (signal: AbortSignal) =>
            new Promise<void>((resolve) => {
              const done = (): void => {
                sub.unsubscribe();
                signal.removeEventListener('abort', done);
                resolve();
              };
              const sub = events$.subscribe({ next: done, complete: done, error: done });
              signal.addEventListener('abort', done, { once: true });
            }),
        }
      : {}),
    blockDevices: async (signal) =>
      (await agent.request('blk', [], opts(signal))).map((d) => ({
        name: d.name,
        serial: d.serial,
        sizeBytes: d.sizeBytes,
      })),
    onlineCpus: async (signal) => (await agent.request('online-cpus', [], opts(signal))).online,
    memTotalMiB: async (signal) =>
      Math.floor((await agent.request('online-mem', [], opts(signal))).memTotalKiB / 1024),
    nics: async (signal) =>
      (await agent.request('net', [], opts(signal))).map((n) => ({ name: n.name, mac: n.mac.toLowerCase() })),
  };
}

/**
 * Re-asks `probe` until `done` holds or the deadline passes. With `wake` (the guest's hotplug
 * events) it re-asks when the guest reports a change, a 2 s backoff only as a fallback; without
 * it, a bounded retry with backoff (20 ms doubling to 500 ms).
 */
export async function waitUntil<T>(
  what: string,
  probe: (signal: AbortSignal) => Promise<T>,
  done: (value: T) => boolean,
  opts: {
    readonly deadlineMs: number;
    readonly signal: AbortSignal;
    readonly wake?: ((signal: AbortSignal) => Promise<void>) | undefined;
  },
): Promise<T> {
  const deadline = AbortSignal.timeout(opts.deadlineMs);
  const signal = AbortSignal.any([opts.signal, deadline]);
  const fail = (cause?: unknown): never => {
    if (opts.signal.aborted) {
      throw new HotplugAbortedError(`Pre-empted while waiting for ${what}`, { cause: opts.signal.reason });
    }
    throw new HotplugTimeoutError(what, opts.deadlineMs, cause === undefined ? {} : { cause });
  };
  let delay = opts.wake ? 2_000 : 20;
  let last: unknown;
  for (;;) {
    if (signal.aborted) fail(last);
    // Listen for the next guest event before asking, so a change in between is not missed.
    const round = new AbortController();
    const woken = opts.wake?.(AbortSignal.any([signal, round.signal]));
    try {
      const v = await probe(signal);
      if (done(v)) {
        round.abort();
        return v;
      }
    } catch (err) {
      last = err;
    }
    if (signal.aborted) fail(last);
    const timer = new Promise<void>((resolve) => {
      const t = setTimeout(done2, delay);
      function done2() {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }
      function onAbort() {
        clearTimeout(t);
        resolve();
      }
      signal.addEventListener('abort', onAbort, { once: true });
      round.signal.addEventListener('abort', onAbort, { once: true });
    });
    await (woken ? Promise.race([woken, timer]) : timer);
    round.abort();
    if (!opts.wake) delay = Math.min(delay * 2, 500);
  }
}
