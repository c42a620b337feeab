// `ctr events` as a stream: each line (timestamp, namespace, topic, JSON) parsed, waited on by predicate.
import { spawn } from 'node:child_process';
import { execa } from 'execa';
import { hostBinary } from './env.js';

/** One event as `ctr events` prints it. */
export interface CtrEvent {
  readonly namespace: string;
  readonly topic: string;
  readonly event: Record<string, unknown>;
}

/** A running `ctr events`; `next(pred)` resolves with the first matching event from its start on. */
export interface CtrEvents {
  readonly seen: CtrEvent[];
  next(pred: (e: CtrEvent) => boolean, timeoutMs?: number): Promise<CtrEvent>;
  stop(): void;
}

/**
 * Subscribes to containerd's events. Resolves once the subscription is live: it creates a marker
 * namespace and waits for its `/namespaces/create` event.
 */
export async function ctrEvents(socket: string): Promise<CtrEvents> {
  const child = spawn(hostBinary('ctr'), ['--address', socket, 'events'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const seen: CtrEvent[] = [];
  const waiters = new Set<() => void>();
  let buf = '';
  child.stdout.on('data', (c: Buffer) => {
    buf += c.toString();
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      // `2026-12-04 01:44:25.241 +0000 UTC <namespace> <topic> <json>`
      const m = /^\S+ \S+ \S+ \S+ (\S+) (\S+) (\{.*\})$/.exec(line);
      if (m) seen.push({ namespace: m[1] ?? '', topic: m[2] ?? '', event: JSON.parse(m[3] ?? '{}') });
      for (const w of [...waiters]) w();
      nl = buf.indexOf('\n');
    }
  });
  const events: CtrEvents = {
    seen,
    next(pred, timeoutMs = 180_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = seen.find(pred);
          if (!hit) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(hit);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`no matching containerd event within ${timeoutMs} ms; seen: ${JSON.stringify(seen)}`),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  };
  const marker = `events-${process.pid}-${Date.now()}`;
  const live = events.next((e) => e.topic === '/namespaces/create' && e.event.name === marker, 30_000);
  live.catch(() => undefined);
  // The subscription has no "connected" signal: re-send the marker with a backoff until it is seen.
  for (let attempt = 0; attempt < 50; attempt++) {
    await execa(hostBinary('ctr'), ['--address', socket, 'namespaces', 'create', marker], { reject: false });
    await execa(hostBinary('ctr'), ['--address', socket, 'namespaces', 'remove', marker], { reject: false });
    const ok = await Promise.race([
      live.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 200)),
    ]);
    if (ok) return events;
  }
  events.stop();
  throw new Error('ctr events never saw its marker namespace');
}
