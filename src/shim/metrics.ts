// The container cgroup's counters from the guest as containerd's cgroup v2 Metrics (what `ctr task metrics` prints).
import type { GuestContainerStats } from '../guest/protocol.js';
import type { ShimMessages } from './proto-types.js';

type Metrics = ShimMessages['io.containerd.cgroups.v2.Metrics'];

/** The memory.stat keys MemoryStat has under the same name. */
const MEMORY_STAT_KEYS = [
  'anon',
  'file',
  'kernel_stack',
  'slab',
  'sock',
  'shmem',
  'file_mapped',
  'file_dirty',
  'pgfault',
  'pgmajfault',
] as const;

const pick = <K extends string>(from: Readonly<Record<string, number>> | undefined, keys: readonly K[]) =>
  Object.fromEntries(keys.filter((k) => from?.[k] !== undefined).map((k) => [k, from?.[k] ?? 0])) as Partial<
    Record<K, number>
  >;

/**
 * Maps `ctr-stats` (cgroup v2 file names) to `io.containerd.cgroups.v2.Metrics`, as runc's shim
 * fills it from a container's cgroup: a limit of 0 means none (`max`).
 *
 * @example
 * ```ts
 * const m = cgroupMetrics(await vm.stats());
 * console.log(m.memory?.usage, m.pids?.current);
 * ```
 */
export function cgroupMetrics(s: GuestContainerStats): Metrics {
  return {
    pids: { current: s['pids.current'], limit: s['pids.max'] },
    cpu: pick(s['cpu.stat'], [
      'usage_usec',
      'user_usec',
      'system_usec',
      'nr_periods',
      'nr_throttled',
      'throttled_usec',
    ] as const),
    memory: {
      ...pick(s['memory.stat'], MEMORY_STAT_KEYS),
      usage: s['memory.current'],
      usage_limit: s['memory.max'],
    },
    memory_events: pick(s['memory.events'], ['low', 'high', 'max', 'oom', 'oom_kill'] as const),
  };
}
