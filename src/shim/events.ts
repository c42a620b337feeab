// Publishes task events to containerd (Events/Forward over ttrpc at TTRPC_ADDRESS), one at a time, in order.
import type { Logger } from 'pino';
import { encodeMessage, type ShimMessageName, toAny } from './proto.js';
import type { ShimMessages, Timestamp } from './proto-types.js';
import { TtrpcClient } from './ttrpc-client.js';

/** Event topics of the task events containerd's runc shim publishes. */
export const TASK_TOPICS = {
  'containerd.events.TaskCreate': '/tasks/create',
  'containerd.events.TaskStart': '/tasks/start',
  'containerd.events.TaskExit': '/tasks/exit',
  'containerd.events.TaskDelete': '/tasks/delete',
  'containerd.events.TaskExecAdded': '/tasks/exec-added',
  'containerd.events.TaskExecStarted': '/tasks/exec-started',
  'containerd.events.TaskPaused': '/tasks/paused',
  'containerd.events.TaskResumed': '/tasks/resumed',
  'containerd.events.TaskOOM': '/tasks/oom',
} as const;

/** A task event message name. */
export type TaskEventName = keyof typeof TASK_TOPICS;

/** A protobuf Timestamp of a Date. */
export function timestampOf(at: Date): Timestamp {
  const ms = at.getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

/** Something that takes task events (the ttrpc publisher, or a test's recorder). */
export interface TaskEventSink {
  publish<N extends TaskEventName & ShimMessageName>(name: N, event: ShimMessages[N]): void;
  /** Resolves once every event published so far was forwarded (or given up on). */
  flush(): Promise<void>;
  close(): void;
}

/**
 * Forwards events to containerd in publish order over one ttrpc connection (reconnected once per
 * event on failure). Failures are logged, never thrown: containerd also learns exits from Wait.
 *
 * @example
 * ```ts
 * const events = new EventPublisher(process.env.TTRPC_ADDRESS ?? '', 'default', logger);
 * events.publish('containerd.events.TaskStart', { container_id: 't1', pid: 42 });
 * await events.flush();
 * ```
 */
export class EventPublisher implements TaskEventSink {
  private chain: Promise<void> = Promise.resolve();
  private client: Promise<TtrpcClient> | undefined;

  constructor(
    private readonly address: string,
    private readonly namespace: string,
    private readonly logger: Logger,
  ) {}

  publish<N extends TaskEventName & ShimMessageName>(name: N, event: ShimMessages[N]): void {
    const request = encodeMessage('containerd.services.events.ttrpc.v1.ForwardRequest', {
      envelope: {
        timestamp: timestampOf(new Date()),
        namespace: this.namespace,
        topic: TASK_TOPICS[name],
        event: toAny(name, event),
      },
    });
    this.chain = this.chain.then(() => this.forward(name, request));
  }

  flush(): Promise<void> {
    return this.chain;
  }

  close(): void {
    void this.client?.then((c) => c.close()).catch(() => undefined);
    this.client = undefined;
  }

  private async forward(name: string, request: Uint8Array): Promise<void> {
    if (this.address === '') return;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        this.client ??= TtrpcClient.connect(this.address);
        const client = await this.client;
        await client.call('containerd.services.events.ttrpc.v1.Events', 'Forward', request, {
          timeoutMs: 5000,
          metadata: { 'containerd-namespace-ttrpc': this.namespace },
        });
        return;
      } catch (err) {
        this.logger.warn({ err, event: name, attempt }, 'forwarding a task event to containerd failed');
        this.close();
      }
    }
  }
}
