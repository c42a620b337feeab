// The inspector's record: numbers every message, keeps each actor's latest snapshot and a bounded timeline, feeds live clients.
//
// Observers call `enqueue` with references only (the snapshot object, the event object): the work
// of sanitizing, numbering and sending runs later, once per batch window (`batchMs`, a delivery
// deadline), so an inspected sandbox's step costs one array push and a page wakes up at most once
// per window however busy the sandboxes are.

import { concatMap, from, type Observable, Subject } from 'rxjs';
import type {
  InspectDevicesMessage,
  InspectEventKind,
  InspectEventMessage,
  InspectMachine,
  InspectMessage,
  InspectSnapshotMessage,
  Json,
} from './protocol.js';
import { activePaths } from './protocol.js';
import { sanitize } from './sanitize.js';

/** Limits of {@link InspectRecorder}. */
export interface RecorderLimits {
  /** Timeline entries kept per actor for a page opened late (default 300). */
  readonly replayPerActor: number;
  /** Actors kept; past it the oldest ended one is forgotten (default 512). */
  readonly maxActors: number;
  /** Steps waiting for the next batch; past it new ones are dropped and counted (default 50 000). */
  readonly maxPending: number;
  /**
   * A step is published at most this long after it happened, ms (default 250: four page updates a
   * second). The page's own CPU scales with the batches; on the sandboxes' two cores it slowed their
   * pause/resume by 10–30 % at 20 ms and ~10 % at 100 ms, within noise at 250 ms.
   */
  readonly batchMs: number;
}

/** Defaults of {@link RecorderLimits}. */
export const DEFAULT_RECORDER_LIMITS: RecorderLimits = {
  replayPerActor: 300,
  maxActors: 512,
  maxPending: 50_000,
  batchMs: 250,
};

/** What an observer hands over (references; converted in the batch). */
export type RawStep =
  | { readonly t: 'actor' }
  | { readonly t: 'snapshot'; readonly snapshot: { value: unknown; status: string; context: unknown } }
  | {
      readonly t: 'event';
      readonly event: unknown;
      /** Classifies and summarizes the event, in the batch (not in the observer). */
      readonly describe: (event: never) => { kind: InspectEventKind; summary: string };
    }
  | { readonly t: 'devices'; readonly devices: unknown };

interface Pending {
  readonly actorId: string;
  readonly machine: InspectMachine;
  readonly time: number;
  readonly step: RawStep;
}

interface ActorRecord {
  readonly machine: InspectMachine;
  actor: InspectMessage | undefined;
  snapshot: InspectSnapshotMessage | undefined;
  devices: InspectDevicesMessage | undefined;
  readonly timeline: InspectEventMessage[];
}

/** A short phase name: a sandbox's public phase, else the top-level state. */
function phaseOf(value: unknown, context: unknown): string {
  const phase = (context as { phase?: unknown } | null)?.phase;
  if (typeof phase === 'string') return phase;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null) return Object.keys(value)[0] ?? '';
  return '';
}

/**
 * Numbers and keeps inspection messages: each actor's latest snapshot and device record, its last
 * `replayPerActor` timeline entries, and a live feed.
 *
 * @example
 * ```ts
 * const rec = new InspectRecorder();
 * rec.messages$.subscribe((m) => console.log(m.seq, m.type));
 * rec.enqueue('sb1', 'sandbox', { t: 'actor' });
 * ```
 */
export class InspectRecorder {
  /** Every message once numbered (hot). */
  readonly messages$: Observable<InspectMessage>;
  /** The same messages, one array per batch (hot; what the SSE stream writes at once). */
  readonly batches$: Observable<readonly InspectMessage[]>;
  /** Steps dropped because the batch was full. */
  dropped = 0;
  readonly limits: RecorderLimits;
  private readonly subject = new Subject<readonly InspectMessage[]>();
  private readonly actors = new Map<string, ActorRecord>();
  private pending: Pending[] = [];
  private scheduled: NodeJS.Timeout | undefined;
  private seq = 0;
  private closed = false;

  constructor(limits: Partial<RecorderLimits> = {}) {
    this.limits = { ...DEFAULT_RECORDER_LIMITS, ...limits };
    this.batches$ = this.subject.asObservable();
    this.messages$ = this.batches$.pipe(concatMap((batch) => from(batch)));
  }

  /** Number of the latest message (0 before the first). */
  get lastSeq(): number {
    return this.seq;
  }

  /** Hands a step over; it is converted and published in the next batch. O(1). */
  enqueue(actorId: string, machine: InspectMachine, step: RawStep): void {
    if (this.closed) return;
    if (this.pending.length >= this.limits.maxPending) {
      this.dropped += 1;
      return;
    }
    this.pending.push({ actorId, machine, time: Date.now(), step });
    // A delivery deadline for the batch (not a poll): it fires once, only when steps are pending.
    this.scheduled ??= setTimeout(() => this.flush(), this.limits.batchMs);
  }

  /** Converts and publishes everything pending now (tests and `close` call it; batches run it). */
  flush(): void {
    if (this.scheduled) clearTimeout(this.scheduled);
    this.scheduled = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const out: InspectMessage[] = [];
    for (const p of batch) {
      const m = this.convert(p);
      if (m) out.push(this.publish(m));
    }
    this.subject.next(out);
  }

  /**
   * What a client opened now needs: per actor (oldest first) its appearance, latest snapshot and
   * device record, and its kept timeline, in `seq` order; only messages after `after`.
   */
  replay(after = 0): InspectMessage[] {
    this.flush();
    const out: InspectMessage[] = [];
    for (const r of this.actors.values()) {
      if (r.actor) out.push(r.actor);
      if (r.snapshot) out.push(r.snapshot);
      if (r.devices) out.push(r.devices);
      out.push(...r.timeline);
    }
    return out.filter((m) => m.seq > after).sort((a, b) => a.seq - b.seq);
  }

  /** The latest snapshot of every actor. */
  snapshots(): InspectSnapshotMessage[] {
    this.flush();
    return [...this.actors.values()].flatMap((r) => (r.snapshot ? [r.snapshot] : []));
  }

  /** Stops taking steps and completes the feed. */
  close(): void {
    this.flush();
    this.closed = true;
    this.subject.complete();
  }

  private convert(p: Pending): InspectMessage | undefined {
    const base = { seq: 0, time: p.time, actorId: p.actorId, machine: p.machine };
    const s = p.step;
    switch (s.t) {
      case 'actor':
        return { ...base, type: 'actor' };
      case 'snapshot':
        return {
          ...base,
          type: 'snapshot',
          value: sanitize(s.snapshot.value),
          states: activePaths(s.snapshot.value),
          status: s.snapshot.status,
          phase: phaseOf(s.snapshot.value, s.snapshot.context),
          context: sanitize(s.snapshot.context),
        };
      case 'event': {
        const { kind, summary } = s.describe(s.event as never);
        return { ...base, type: 'event', kind, summary, detail: sanitize(s.event) };
      }
      case 'devices':
        return { ...base, type: 'devices', devices: sanitize(s.devices) as Json };
    }
  }

  private record(actorId: string, machine: InspectMachine): ActorRecord {
    let r = this.actors.get(actorId);
    if (!r) {
      r = { machine, actor: undefined, snapshot: undefined, devices: undefined, timeline: [] };
      this.actors.set(actorId, r);
      if (this.actors.size > this.limits.maxActors) this.forgetOneEnded();
    }
    return r;
  }

  private forgetOneEnded(): void {
    for (const [id, r] of this.actors) {
      if (r.snapshot && r.snapshot.status !== 'active') {
        this.actors.delete(id);
        return;
      }
    }
  }

  private publish(m: InspectMessage): InspectMessage {
    this.seq += 1;
    const numbered = { ...m, seq: this.seq } as InspectMessage;
    const r = this.record(m.actorId, m.machine);
    if (numbered.type === 'actor') r.actor = numbered;
    else if (numbered.type === 'snapshot') r.snapshot = numbered;
    else if (numbered.type === 'devices') r.devices = numbered;
    else {
      r.timeline.push(numbered);
      if (r.timeline.length > this.limits.replayPerActor) r.timeline.shift();
    }
    return numbered;
  }
}
