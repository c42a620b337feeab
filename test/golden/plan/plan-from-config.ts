// How a fixture's config becomes a plan (kept in one place so the golden, acceptance and CLI tests agree).
import type { PlanOptions, QemuPlan } from '../../../src/qemu/plan.js';
import { planQemuSpec } from '../../../src/qemu/plan.js';
import type { PlanSpec } from '../../../src/qemu/plan-spec.js';

const DEFAULTS: Omit<PlanSpec, 'id' | 'kernel'> = {
  arch: 'amd64',
  vcpus: 1,
  maxVcpus: 0,
  memoryMiB: 2048,
  memSlots: 10,
  memOffsetMiB: 0,
  defaultBridges: 1,
  blockDeviceDriver: 'virtio-scsi',
  enableIOThreads: false,
  disableImageNvdimm: false,
  kernelParams: '',
  sharedFs: 'none',
  hugePages: false,
  memPrealloc: false,
  realtime: false,
  mlock: false,
  template: 'none',
  enableVhostUserStore: false,
  entropySource: '/dev/urandom',
  useVsock: false,
  pcieRootPorts: 0,
  debug: false,
  devices: [],
};

/** Plans a fixture config. */
export function planFromConfig(config: Record<string, unknown>, opts: PlanOptions): QemuPlan {
  return planQemuSpec({ ...DEFAULTS, ...config } as PlanSpec, opts);
}
