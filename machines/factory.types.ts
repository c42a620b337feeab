// Types of the VM factory machine (Kata's factory/ cache): plain data only.

/** A VM the factory holds, started and ready (Kata's factory `GetVMStatus` entry). */
export interface PooledVm {
  /** The factory's name for it (its sandbox id). */
  readonly key: string;
  readonly pid: number;
  readonly vcpus: number;
  readonly memoryMiB: number;
}

/** Input of the factory machine. */
export interface FactoryMachineInput {
  /** VMs kept started and ready. */
  readonly cacheSize: number;
  /** At most this many VMs start at once (bounded refill). Default 1. */
  readonly concurrency?: number;
  /** Consecutive start failures after which refilling stops (until a VM starts again). Default 3. */
  readonly maxFailures?: number;
}

/** Context of the factory machine. */
export interface FactoryContext {
  readonly cacheSize: number;
  readonly concurrency: number;
  readonly maxFailures: number;
  /** Ready VMs, oldest first (handed out first). */
  readonly cached: readonly PooledVm[];
  /** VMs being started now. */
  readonly starting: number;
  /** Counter for the next VM's key. */
  readonly seq: number;
  /** Consecutive start failures. */
  readonly failures: number;
}

/** Input of the `startVm` actor: the key the new VM gets. */
export interface StartVmInput {
  readonly key: string;
}

/** Events of the factory machine: requests from the handle, reports from the `startVm` actors. */
export type FactoryEvent =
  | { readonly type: 'GET'; readonly requestId: string }
  | { readonly type: 'CLOSE' }
  | { readonly type: 'VM_READY'; readonly vm: PooledVm }
  | { readonly type: 'VM_FAILED'; readonly key: string; readonly error: unknown }
  | { readonly type: 'VM_EXITED'; readonly key: string };

/** What the factory machine emits (the handle settles `get()` on these). */
export type FactoryEmitted =
  | { readonly type: 'handed-out'; readonly requestId: string; readonly vm: PooledVm }
  | { readonly type: 'miss'; readonly requestId: string }
  | { readonly type: 'refused'; readonly requestId: string }
  | { readonly type: 'start-failed'; readonly key: string; readonly error: unknown };
