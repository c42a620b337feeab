// The supervisor's one event stream: a monotonic sequence number on every event and a bounded replay buffer.
import { type Observable, Subject } from 'rxjs';

/** One event of the host's stream: `seq` increases by one per event, from 1. */
export interface Sequenced<E> {
  readonly seq: number;
  readonly event: E;
}

/** What `since(seq)` found: the events after `seq`, and whether some were already dropped. */
export interface Replay<E> {
  readonly events: readonly Sequenced<E>[];
  /** True when events after `seq` were dropped from the buffer (the client missed them for good). */
  readonly gap: boolean;
}

/** Numbers events, keeps the last `capacity` for replay, and publishes them hot on `events$`. */
export class EventLog<E> {
  /** Every event as it is appended (hot). */
  readonly events$: Observable<Sequenced<E>>;
  private readonly subject = new Subject<Sequenced<E>>();
  private readonly ring: Array<Sequenced<E> | undefined>;
  private next = 1;

  constructor(readonly capacity: number) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) {
      throw new RangeError(`Expected the event buffer size to be an integer ≥ 1, got \`${capacity}\``);
    }
    this.ring = new Array<Sequenced<E> | undefined>(capacity);
    this.events$ = this.subject.asObservable();
  }

  /** The sequence number of the latest event (0 before the first). */
  get lastSeq(): number {
    return this.next - 1;
  }

  /** Numbers `event`, buffers it and publishes it. */
  append(event: E): Sequenced<E> {
    const item = { seq: this.next, event };
    this.next += 1;
    this.ring[item.seq % this.capacity] = item;
    this.subject.next(item);
    return item;
  }

  /** Buffered events with a sequence number above `seq`, oldest first. */
  since(seq: number): Replay<E> {
    const last = this.lastSeq;
    const oldest = Math.max(1, last - this.capacity + 1);
    const from = Math.max(seq + 1, oldest);
    const events: Sequenced<E>[] = [];
    for (let s = from; s <= last; s++) {
      const item = this.ring[s % this.capacity];
      if (item?.seq === s) events.push(item);
    }
    return { events, gap: seq + 1 < oldest && last > 0 };
  }

  /** Completes the stream. */
  close(): void {
    this.subject.complete();
  }
}
