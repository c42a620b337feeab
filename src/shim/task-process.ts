// One process of a task (the init process or an exec): its spec, IO, status and exit.

import type { GuestExit, ProcessIo } from './container-vm.js';
import type { GuestProcessSpec } from './guest-spec.js';
import { TASK_STATUS, type TaskStatus } from './proto-types.js';

/** The state the Task service keeps per process. */
export class TaskProcess {
  status: TaskStatus = TASK_STATUS.CREATED;
  pid = 0;
  exit: GuestExit | undefined;
  private settle: (e: GuestExit) => void = () => {};
  /** Resolves when the process exits (Wait). */
  readonly exited: Promise<GuestExit>;

  constructor(
    /** '' for the init process. */
    readonly execId: string,
    /** The guest agent's key for it (`p0`, `p1`, ...). */
    readonly key: string,
    readonly spec: Omit<GuestProcessSpec, 'root'>,
    readonly io: ProcessIo & { readonly stdin: string; readonly terminal: boolean },
  ) {
    this.exited = new Promise((resolve) => {
      this.settle = resolve;
    });
  }

  /** Records the exit once; later calls are ignored. */
  markExited(exit: GuestExit): void {
    if (this.exit) return;
    this.exit = exit;
    this.status = TASK_STATUS.STOPPED;
    this.settle(exit);
  }

  get running(): boolean {
    return this.status === TASK_STATUS.RUNNING || this.status === TASK_STATUS.PAUSED;
  }
}
