// What an operation runs against: the QMP client, the device record, the config, limits, deadlines.
import { totalmem } from 'node:os';
import type { Logger } from 'pino';
import type { HypervisorConfig } from '../config/types.js';
import type { DeviceRecord } from '../devices/record.js';
import type { QmpClient } from '../qmp/client.js';
import type { GuestProbe } from './guest-probe.js';

/** The parts of the QMP client the operations use (a real `QmpClient` satisfies it). */
export type HotplugQmp = Pick<QmpClient, 'execute' | 'executeAndWaitFor'>;

/** The hypervisor settings the operations read. */
export type HotplugConfig = Pick<
  HypervisorConfig,
  | 'arch'
  | 'disableVhostNet'
  | 'entropySource'
  | 'iommuPlatform'
  | 'numVCPUs'
  | 'defaultMaxVCPUs'
  | 'memorySize'
  | 'memSlots'
  | 'memOffset'
  | 'blockDeviceDriver'
  | 'blockDeviceCacheSet'
  | 'blockDeviceCacheDirect'
  | 'blockDeviceCacheNoflush'
  | 'hypervisorMachineType'
  | 'hotplugVFIOOnRootBus'
  | 'pcieRootPort'
  | 'fileBackedMemRootDir'
  | 'sharedFS'
  | 'hugePages'
  | 'enableVhostUserStore'
  | 'virtioMem'
>;

/** Phases an operation reports (the sandbox machine emits `requested` itself). */
export type HotplugPhase = 'applied' | 'confirmed' | 'failed' | 'rolled-back';

/** Capacity limits; defaults come from the config and the host. */
export interface HotplugLimits {
  /** vCPUs at boot (never removed). */
  readonly bootVcpus: number;
  readonly maxVcpus: number;
  /** Guest memory at boot, MiB. */
  readonly bootMemoryMiB: number;
  /** QEMU's `maxmem`, MiB (boot memory + everything hot-pluggable). */
  readonly maxMemMiB: number;
  /** Host memory, MiB (Kata's qemu.go `hotplugAddMemory` refuses to go beyond it). */
  readonly hostMemMiB: number;
  /** `-m slots=`. */
  readonly memSlots: number;
}

/** Deadlines in ms. */
export interface HotplugDeadlines {
  /** Each QMP command (and each rollback command). Default 10 000. */
  readonly commandMs: number;
  /** `DEVICE_DELETED` after device_del (phase two of an unplug). Default 20 000. */
  readonly deviceDeletedMs: number;
  /** The guest seeing the change (phase two of a plug). Default 30 000. */
  readonly guestMs: number;
}

/** The defaults of {@link HotplugDeadlines}. */
export const DEFAULT_DEADLINES: HotplugDeadlines = {
  commandMs: 10_000,
  deviceDeletedMs: 20_000,
  guestMs: 30_000,
};

/** Everything an operation needs; built once per sandbox by the sandbox layer. */
export interface HotplugContext {
  readonly qmp: HotplugQmp;
  /** Every device of the sandbox (cold and hot), its slots, vCPUs and memory. */
  readonly record: DeviceRecord;
  readonly config: HotplugConfig;
  /** The sandbox's id: seeds the stable default MAC of a NIC given without one (as cold plug). */
  readonly sandboxId?: string;
  /** Fires when STOP pre-empts the operation: it undoes what it did and rejects. */
  readonly signal: AbortSignal;
  /** Phase reports: `applied` once QEMU accepted, `confirmed` once real, `failed`, `rolled-back`. */
  emit(phase: HotplugPhase, detail?: unknown): void;
  /** Confirms effects inside the guest (phase two); without it QEMU's word is phase two. */
  readonly guest?: GuestProbe;
  /** The VM is paused: the guest cannot confirm anything (and cannot ack an unplug) until resumed. */
  readonly paused?: boolean;
  readonly logger?: Logger;
  /**
   * The accelerator QEMU runs with (the plan's `machine.accel`). Under `tcg`, vCPU hot-remove is
   * refused unless `allowTcgVcpuUnplug`: QEMU 7.2 TCG crashes (SIGSEGV, heap corruption) on the
   * next hot-plug after a vCPU was unplugged.
   */
  readonly accelerator?: 'kvm' | 'tcg';
  /** Allow vCPU hot-remove under TCG anyway (the VM may crash later; tests that discard it). */
  readonly allowTcgVcpuUnplug?: boolean;
  readonly limits?: Partial<HotplugLimits>;
  readonly deadlines?: Partial<HotplugDeadlines>;
}

let hostMiB: number | undefined;

/** Host memory in MiB (`os.totalmem()`, read once), as Kata's qemu.go `hostMemMB`. */
export function hostMemoryMiB(): number {
  hostMiB ??= Math.floor(totalmem() / (1024 * 1024));
  return hostMiB;
}

/**
 * Limits from the config: maxmem as the plan computes it (host memory + memory offset, never
 * below boot memory), boot/max vCPUs, memory slots.
 *
 * @example
 * limitsOf(ctx).maxVcpus // config.defaultMaxVCPUs
 */
export function limitsOf(ctx: Pick<HotplugContext, 'config' | 'limits'>): HotplugLimits {
  const c = ctx.config;
  const host = ctx.limits?.hostMemMiB ?? hostMemoryMiB();
  return {
    bootVcpus: ctx.limits?.bootVcpus ?? c.numVCPUs,
    maxVcpus: ctx.limits?.maxVcpus ?? Math.max(c.numVCPUs, c.defaultMaxVCPUs),
    bootMemoryMiB: ctx.limits?.bootMemoryMiB ?? c.memorySize,
    maxMemMiB: ctx.limits?.maxMemMiB ?? Math.max(c.memorySize, host + c.memOffset),
    hostMemMiB: host,
    memSlots: ctx.limits?.memSlots ?? c.memSlots,
  };
}

/** Deadlines with defaults applied. */
export function deadlinesOf(ctx: Pick<HotplugContext, 'deadlines'>): HotplugDeadlines {
  return { ...DEFAULT_DEADLINES, ...ctx.deadlines };
}
