// VFIO hot-plug (the seeds' hotplugVFIODevice): root bus / root port or a bridge slot; mediated via sysfsdev.
import type { HotplugVfioOperation } from '../../machines/operation.types.js';
import type { QmpDeviceAddArgs } from '../qmp/commands.js';
import { vfioWantsRootPort } from './capacity.js';
import { assertNewId, deviceAddUndo, deviceDelAndWait, recordStuck, takeBridgeSlot } from './common.js';
import type { HotplugContext } from './context.js';
import type { DevicePlacement, RecordedVfio } from './device-state.js';
import { HotplugCapacityError, HotplugInputError, VfioDeviceError } from './errors.js';
import { Steps } from './steps.js';
import type { UnplugResult, VfioPlugResult } from './types.js';

const BDF_RE = /^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;

/** Where the seeds put a VFIO device: root bus (machine/root ports decide the bus) or a bridge. */
export function vfioPlacementKind(
  ctx: Pick<HotplugContext, 'config'>,
  op: Pick<HotplugVfioOperation, 'pcie'>,
): 'root-port' | 'root-bus' | 'bridge' {
  if (!ctx.config.hotplugVFIOOnRootBus) return 'bridge';
  // q35: a PCIe device goes to a PCIe root port when there are some (else the seeds warn and use
  // the root bus); other machines: the root bus.
  return vfioWantsRootPort(ctx.config, op.pcie) ? 'root-port' : 'root-bus';
}

/** device_add arguments (govmm's ExecuteVFIODeviceAdd / ExecutePCIVFIODeviceAdd / ...MediatedDeviceAdd). */
export function vfioDeviceArgs(
  op: HotplugVfioOperation,
  mediated: boolean,
  where: DevicePlacement,
): QmpDeviceAddArgs {
  return {
    driver: 'vfio-pci',
    id: op.id,
    ...(mediated ? { sysfsdev: op.host } : { host: op.host }),
    ...(where.bus ? { bus: where.bus } : {}),
    ...(where.addr ? { addr: where.addr } : {}),
    romfile: '',
  };
}

/**
 * Plugs a VFIO device (host function by BDF, or a mediated device by sysfs path). QEMU's refusal
 * (no such host device, no IOMMU group, ...) becomes a {@link VfioDeviceError}; the slot is released.
 */
export async function hotplugVfio(ctx: HotplugContext, op: HotplugVfioOperation): Promise<VfioPlugResult> {
  assertNewId(ctx, op.id);
  const mediated = op.mediated ?? (typeof op.host === 'string' && op.host.startsWith('/'));
  if (typeof op.host !== 'string' || (mediated ? !/^\/sys\/[^,]+$/.test(op.host) : !BDF_RE.test(op.host))) {
    throw new HotplugInputError(
      `Expected \`host\` to be a PCI address (\`0000:01:00.0\`) or a mediated device sysfs path, got \`${String(op.host)}\``,
    );
  }
  const kind = vfioPlacementKind(ctx, op);
  if (kind === 'root-bus' && op.pcie && ctx.config.hypervisorMachineType === 'q35') {
    ctx.logger?.warn(
      { deviceId: op.id },
      "VFIO device is a PCIe device. It's recommended to add the PCIe Root Port by setting the pcie_root_port parameter in the configuration for q35",
    );
  }
  const steps = new Steps(ctx);
  let rec: RecordedVfio;
  try {
    let where: DevicePlacement = {};
    if (kind === 'bridge') where = takeBridgeSlot(ctx, steps, op.id, 'pci');
    else if (kind === 'root-port') {
      const port = ctx.state.takeRootPort(op.id);
      if (port === undefined)
        throw new HotplugCapacityError('root-ports', `Expected a free PCIe root port for \`${op.id}\``);
      steps.onUndo(`release root port of ${op.id}`, () => ctx.state.releaseRootPort(op.id));
      where = { bus: port };
    }
    const stuck: RecordedVfio = {
      kind: 'vfio',
      id: op.id,
      host: op.host,
      mediated,
      rootBus: kind !== 'bridge',
      ...where,
    };
    await steps.qmp(
      'device_add vfio-pci',
      'device_add',
      vfioDeviceArgs(op, mediated, where),
      deviceAddUndo(ctx, op.id, (pending) => recordStuck(ctx, stuck, pending)),
    );
    rec = stuck;
    ctx.state.addDevice(rec);
  } catch (err) {
    return steps.fail(
      err,
      (r, rolledBack) => new VfioDeviceError(op.host, r.qmp.desc, { cause: r.qmp, rolledBack }),
    );
  }
  ctx.emit('applied');
  return {
    kind: 'hotplug-vfio',
    id: op.id,
    ...(rec.bus ? { bus: rec.bus } : {}),
    ...(rec.pciPath ? { pciPath: rec.pciPath } : {}),
    confirmedBy: 'qemu',
  };
}

/** device_del → `DEVICE_DELETED` → slot (or root port) release. */
export async function unplugVfio(ctx: HotplugContext, rec: RecordedVfio): Promise<UnplugResult> {
  const wait = await deviceDelAndWait(ctx, rec.id);
  if (!wait.deleted) return { kind: 'unplug', id: rec.id, removed: false, pending: true };
  finishVfioRemoval(ctx, rec);
  return { kind: 'unplug', id: rec.id, removed: true, pending: false };
}

/** After `DEVICE_DELETED`: release the slot or root port, forget the device. */
export function finishVfioRemoval(ctx: HotplugContext, rec: RecordedVfio): void {
  ctx.state.releaseSlot(rec.id);
  ctx.state.releaseRootPort(rec.id);
  ctx.state.removeDevice(rec.id);
}
