// Hot plug of one DeviceSpec (Kata's qemu.go `hotplugAddDevice`): validate, place from the device
// record, send the QMP commands the cold-plug builders make (with their undo), record the entry,
// confirm in the guest.
import { existsSync, type Stats } from 'node:fs';
import type { HotplugDeviceOperation } from '../../machines/operation.types.js';
import type { DeviceEntry, Placement } from '../devices/record-types.js';
import { scsiIdLun } from '../devices/rules.js';
import type { BlockSpec, DeviceSpec, VfioSpec } from '../devices/spec.js';
import { VmactorError } from '../errors/vmactor-error.js';
import { SCSI_BUS } from '../qemu/lower-device.js';
import { type HostFacts, type HotplugPlan, hotplugPlan } from './build.js';
import { vfioWantsRootPort } from './capacity.js';
import { assertNewId, deviceAddUndo, recordStuck, takeBridgeSlot } from './common.js';
import { blockDeviceSizeBytes, confirmDisk, confirmNic, guestConfirms, guestDisksBefore } from './confirm.js';
import { type HotplugContext, limitsOf } from './context.js';
import {
  HotplugCapacityError,
  HotplugInputError,
  HotplugNotSupportedError,
  VfioDeviceError,
} from './errors.js';
import { parseDeviceSpec, statBacking } from './spec-input.js';
import { Steps } from './steps.js';
import type { ConfirmedBy, HotplugResult } from './types.js';

/** The block driver a disk ends up with: `pmem` means nvdimm (Kata), else the spec's, else the config's. */
export function effectiveBlockDriver(
  spec: Pick<BlockSpec, 'driver' | 'pmem'>,
  config: Pick<HotplugContext['config'], 'blockDeviceDriver'>,
): string {
  if (spec.pmem) return 'nvdimm';
  return spec.driver ?? config.blockDeviceDriver;
}

/** Where Kata's qemu.go `hotplugVFIODevice` puts a VFIO device: a bridge, the root bus, or a root port. */
export function vfioPlacementKind(
  config: HotplugContext['config'],
  spec: Pick<VfioSpec, 'pcie'>,
): 'root-port' | 'root-bus' | 'bridge' {
  if (!config.hotplugVFIOOnRootBus) return 'bridge';
  return vfioWantsRootPort(config, spec.pcie) ? 'root-port' : 'root-bus';
}

/** The refusal, before any QMP, of a kind or driver hot plug does not do. */
function notSupported(spec: DeviceSpec, driver?: string): HotplugNotSupportedError {
  const what =
    spec.kind === 'vhost-user'
      ? `vhost-user \`${spec.type}\``
      : driver
        ? `driver \`${driver}\``
        : `\`${spec.kind}\``;
  return new HotplugNotSupportedError(
    `Expected a hot-pluggable device (block virtio-blk/virtio-scsi/virtio-blk-ccw/nvdimm, vhost-user blk, net, vfio), got ${what}`,
  );
}

/** The builder's commands for `spec` at `placement`; a builder's refusal is a typed input error, before any QMP. */
function build(
  ctx: HotplugContext,
  spec: DeviceSpec,
  placement: Placement,
  host: HostFacts = { isBlockDevice: false },
): HotplugPlan {
  try {
    return hotplugPlan(spec, placement, ctx.config, ctx.sandboxId ?? 'sandbox', host);
  } catch (err) {
    if (err instanceof VmactorError) throw new HotplugInputError(err.message, { cause: err });
    throw err;
  }
}

/** Where QEMU opens vhost-net itself (a tap netdev with `vhost=on` and no `vhostfds`). */
const VHOST_NET_DEV = '/dev/vhost-net';

/**
 * QEMU 7.2 aborts (`net_client_init1: Assertion 'nc' failed`, the VM dies) on `netdev_add` of a tap
 * with `vhost=on` when it cannot open /dev/vhost-net: refused here, before any QMP, instead.
 */
function assertVhostNet(plan: HotplugPlan): void {
  for (const c of plan.commands) {
    if (c.step.execute !== 'netdev_add') continue;
    const a = c.step.arguments;
    if (
      a.type === 'tap' &&
      a.vhost === true &&
      a.vhostfds === undefined &&
      a.vhostfd === undefined &&
      !existsSync(VHOST_NET_DEV)
    ) {
      throw new HotplugNotSupportedError(
        `Expected ${VHOST_NET_DEV} on this host for a vhost-net NIC (\`${plan.spec.id}\`): set \`vhost: false\` or pass \`vhostFds\``,
      );
    }
  }
}

interface Prepared {
  readonly plan: HotplugPlan;
  readonly placement: Placement;
  /** Confirms phase two; resolves with how, and the guest's name for the device. */
  readonly confirm: () => Promise<{ confirmedBy: ConfirmedBy; guestPath?: string }>;
  /** QEMU cannot unplug it (nvdimm): an unknown device_add outcome is recorded, never removed. */
  readonly removable: boolean;
  /** Phase two waits for the guest (else QEMU's accepting the commands confirms the plug). */
  readonly waitsForGuest: boolean;
  readonly classify?: (desc: string, cause: unknown) => VfioDeviceError;
}

const QEMU_ONLY = async (): Promise<{ confirmedBy: ConfirmedBy }> => ({ confirmedBy: 'qemu' });

/** A removable device whose plug QEMU's accepting it confirms (no guest side to wait for). */
function confirmedByQemu(plan: HotplugPlan, placement: Placement): Prepared {
  return { plan, placement, removable: true, waitsForGuest: false, confirm: QEMU_ONLY };
}

async function prepareBlock(ctx: HotplugContext, steps: Steps, spec: BlockSpec): Promise<Prepared> {
  const driver = effectiveBlockDriver(spec, ctx.config);
  if (
    driver !== 'virtio-blk' &&
    driver !== 'virtio-scsi' &&
    driver !== 'virtio-blk-ccw' &&
    driver !== 'nvdimm'
  ) {
    throw notSupported(spec, driver);
  }
  const st: Stats = statBacking(spec.file);
  const before = await guestDisksBefore(ctx);
  if (driver === 'nvdimm') {
    const sizeBytes = st.isFile() ? st.size : await blockDeviceSizeBytes(st);
    if (sizeBytes <= 0)
      throw new HotplugInputError(
        `Expected \`device.file\` to be non-empty for an nvdimm, got \`${spec.file}\``,
      );
    const limits = limitsOf(ctx);
    const mib = Math.ceil(sizeBytes / (1024 * 1024));
    const used =
      limits.bootMemoryMiB +
      ctx.record.hotpluggedMemoryMiB +
      ctx.record.nvdimmMiB() +
      (ctx.record.virtioMem?.regionMiB ?? 0);
    if (used + mib > limits.maxMemMiB) {
      throw new HotplugCapacityError(
        'maxmem',
        `Expected nvdimm \`${spec.id}\` (${mib} MiB) to fit below maxmem ${limits.maxMemMiB} MiB, but ${used} MiB are in use`,
      );
    }
    return {
      plan: build(ctx, { ...spec, driver: 'nvdimm' }, {}, { isBlockDevice: st.isBlockDevice(), sizeBytes }),
      placement: { sizeBytes },
      removable: false,
      waitsForGuest: guestConfirms(ctx),
      confirm: () => confirmDisk(ctx, `nvdimm \`${spec.id}\``, before, (d) => d.name.startsWith('pmem')),
    };
  }
  let placement: Placement;
  if (driver === 'virtio-scsi') {
    const index = ctx.record.nextScsiIndex();
    if (index === undefined)
      throw new HotplugCapacityError('scsi-ids', `Expected a free SCSI id/LUN for \`${spec.id}\``);
    placement = { bus: SCSI_BUS, scsi: { index, ...scsiIdLun(index) } };
  } else {
    placement = takeBridgeSlot(ctx, steps, spec.id, driver === 'virtio-blk-ccw' ? 'ccw' : 'pci');
  }
  const size = st.isBlockDevice() ? undefined : st.size;
  return {
    plan: build(ctx, { ...spec, driver }, placement, { isBlockDevice: st.isBlockDevice() }),
    placement,
    removable: true,
    waitsForGuest: guestConfirms(ctx),
    confirm: () =>
      confirmDisk(ctx, `disk \`${spec.id}\``, before, (d) =>
        driver === 'virtio-blk'
          ? d.serial === spec.id.slice(0, 20)
          : size === undefined || d.sizeBytes === size,
      ),
  };
}

async function prepare(ctx: HotplugContext, steps: Steps, spec: DeviceSpec): Promise<Prepared> {
  switch (spec.kind) {
    case 'block':
      return prepareBlock(ctx, steps, spec);
    case 'vhost-user': {
      if (spec.type !== 'blk') throw notSupported(spec);
      const placement = takeBridgeSlot(ctx, steps, spec.id, 'pci');
      return confirmedByQemu(build(ctx, spec, placement), placement);
    }
    case 'net': {
      const ccw = ctx.config.hypervisorMachineType === 's390-ccw-virtio';
      const placement = takeBridgeSlot(ctx, steps, spec.id, ccw ? 'ccw' : 'pci');
      const plan = build(ctx, spec, placement);
      assertVhostNet(plan);
      // The builder gives a NIC without a MAC the sandbox's stable default one: the guest shows it.
      const mac = plan.spec.kind === 'net' ? plan.spec.mac : undefined;
      return {
        plan,
        placement,
        removable: true,
        waitsForGuest: guestConfirms(ctx) && mac !== undefined,
        confirm: () => confirmNic(ctx, spec.id, mac),
      };
    }
    case 'vfio': {
      const kind = vfioPlacementKind(ctx.config, spec);
      if (kind === 'root-bus' && spec.pcie && ctx.config.hypervisorMachineType === 'q35') {
        ctx.logger?.warn(
          { deviceId: spec.id },
          "VFIO device is a PCIe device. It's recommended to add the PCIe Root Port by setting the pcie_root_port parameter in the configuration for q35",
        );
      }
      let placement: Placement = {};
      if (kind === 'bridge') placement = takeBridgeSlot(ctx, steps, spec.id, 'pci');
      else if (kind === 'root-port') {
        const port = ctx.record.takeRootPort(spec.id);
        if (port === undefined) {
          throw new HotplugCapacityError('root-ports', `Expected a free PCIe root port for \`${spec.id}\``);
        }
        steps.onUndo(`release root port of ${spec.id}`, () => ctx.record.releaseRootPort(spec.id));
        placement = { bus: port };
      }
      const host = spec.bdf ?? spec.sysfsDev ?? '';
      return {
        ...confirmedByQemu(build(ctx, spec, placement), placement),
        classify: (desc, cause) => new VfioDeviceError(host, desc, { cause }),
      };
    }
    default:
      throw notSupported(spec);
  }
}

/**
 * Hot-plugs `op.device` (validated with the config's `deviceSpecSchema`): the device record
 * places it (bridge slot / PCI path, SCSI id/LUN after every cold- and hot-plugged disk, CCW
 * devno, root port), the builder's commands are sent back to back in order (blockdev-add,
 * chardev-add, getfd, netdev_add, object-add, then device_add; one round trip), the entry is recorded (origin `hot`), and
 * phase two waits for the guest (`applied` reported first) or is QEMU's word. A failure undoes every earlier step, newest first.
 */
export async function hotplugDevice(ctx: HotplugContext, op: HotplugDeviceOperation): Promise<HotplugResult> {
  const spec = parseDeviceSpec(op.device);
  assertNewId(ctx, spec.id);
  const steps = new Steps(ctx);
  let prepared: Prepared | undefined;
  let entry: DeviceEntry | undefined;
  try {
    prepared = await prepare(ctx, steps, spec);
    const p = prepared;
    entry = {
      id: spec.id,
      origin: 'hot',
      spec: p.plan.spec,
      placement: p.placement,
      backends: p.plan.backends,
    };
    const stuck = entry;
    // Backends and device_add back to back (one round trip): the first refusal rolls back.
    await steps.pipeline([
      ...p.plan.commands.map((c) => {
        const undo = c.undo;
        return {
          step: c.step.execute,
          cmd: c.step.execute,
          args: c.step.arguments,
          undo: undo
            ? {
                name: `${undo.execute} ${spec.id}`,
                run: () => steps.undoQmp(undo.execute, undo.arguments as never),
              }
            : undefined,
          fds: c.step.fds,
        };
      }),
      {
        step: `device_add ${p.plan.device.driver}`,
        cmd: 'device_add',
        args: p.plan.device,
        undo: deviceAddUndo(ctx, spec.id, (pending) => recordStuck(ctx, stuck, pending), p.removable),
      },
    ]);
    ctx.record.addDevice(entry);
  } catch (err) {
    const classify = prepared?.classify;
    return steps.fail(err, classify ? (r) => classify(r.qmp.desc, r.qmp) : undefined);
  }
  // `applied` is a phase of its own only while the guest is awaited; on QEMU's word alone the
  // machine reports it with `confirmed` (one transition and one state.json write fewer).
  if (prepared.waitsForGuest) ctx.emit('applied');
  const seen = await prepared.confirm();
  if (seen.guestPath) ctx.record.updateDevice(spec.id, { guestPath: seen.guestPath });
  return {
    kind: 'hotplug',
    id: spec.id,
    placement: entry.placement,
    ...(seen.guestPath ? { guestPath: seen.guestPath } : {}),
    confirmedBy: seen.confirmedBy,
  };
}
