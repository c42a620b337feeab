// Plan step "platform devices": what every sandbox gets besides the user's devices (Kata's
// qemu.go createSandbox / qemu_arch_base.go: bridges, vIOMMU, console, image, SCSI controller,
// rng, PCIe root ports, the agent channel).
import type { MachineSpec } from './arch/types.js';
import type { BlockDevice, CharDevice, NvdimmDevice } from './devices/types.js';
import { PlanError } from './errors.js';
import type { PlanPaths } from './paths.js';
import { type DevicePlacer, hex2 } from './plan-placer.js';
import type { PlanSpec } from './plan-spec.js';

/** Knobs every platform virtio device shares: legacy virtio when nested, iommu_platform. */
export function modernKnobs(spec: PlanSpec): { disableModern?: true; iommuPlatform?: true } {
  return {
    ...(spec.nested === true ? { disableModern: true as const } : {}),
    ...(spec.iommuPlatform ? { iommuPlatform: true as const } : {}),
  };
}

/** Bridges first, so they get the first root-bus addresses (Kata's bridgePCIStartAddr). */
export function placeBridges(placer: DevicePlacer, machine: MachineSpec): void {
  for (const b of placer.bridges) {
    if (b.type === 'ccw') continue;
    placer.claimId(b.id);
    placer.reserveRootSlot(b.addr);
    placer.addPlaced(
      {
        type: 'bridge',
        bridgeType: b.type,
        bus: b.bus ?? machine.rootBus ?? 'pci.0',
        id: b.id,
        chassis: b.chassis,
        shpc: true,
        addr: String(b.addr),
      },
      { id: b.id, type: 'bridge', ...(b.bus !== undefined ? { bus: b.bus } : {}), addr: hex2(b.addr) },
    );
  }
}

/** The vIOMMU, console, image, SCSI controller, rng and root ports, in Kata's order. */
export function placePlatformDevices(
  placer: DevicePlacer,
  spec: PlanSpec,
  machine: MachineSpec,
  paths: PlanPaths,
): void {
  const modern = modernKnobs(spec);
  if (spec.iommu) {
    if (machine.type !== 'q35') {
      throw new PlanError(`Expected \`iommu\` only on amd64 q35, got machine \`${machine.type}\``);
    }
    placer.addPlaced({ type: 'iommu', intremap: true, deviceIotlb: true, cachingMode: true });
  }
  // Console: virtio-serial bus + virtconsole on a socket chardev (Kata appendConsole). The bus
  // stays while the console or the serial agent channel uses it.
  if (needsVirtioSerial(spec))
    placer.place({ type: 'serial', driver: 'virtio-serial', id: 'serial0', ...modern });
  if (!spec.omit?.console) {
    placer.place({
      type: 'char',
      driver: 'virtconsole',
      backend: 'socket',
      id: 'charconsole0',
      deviceId: 'console0',
      bus: 'serial0.0',
      path: paths.consoleSocket,
    } satisfies CharDevice);
  }

  // The image (no initrd): an nvdimm where the arch supports it, else a virtio-blk disk.
  if (spec.image !== undefined && spec.initrd === undefined) {
    if (!spec.disableImageNvdimm && machine.nvdimm) {
      if (spec.imageSizeBytes === undefined) {
        throw new PlanError(
          `Expected the image \`${spec.image}\` to exist: an nvdimm image's backend size is the file's size (or set \`disableImageNvdimm\`)`,
        );
      }
      placer.place({
        type: 'nvdimm',
        id: 'mem0',
        deviceId: 'nv0',
        memPath: spec.image,
        size: spec.imageSizeBytes,
        readOnly: true,
      } satisfies NvdimmDevice);
    } else {
      placer.place({
        type: 'block',
        id: 'image0',
        file: spec.image,
        format: 'raw',
        aio: 'threads',
        driver: 'virtio-blk',
        ...modern,
      } satisfies BlockDevice);
    }
  }

  // SCSI controller (+ iothread) when the block driver is virtio-scsi.
  const scsiDisks = spec.devices.some(
    (d) => d.kind === 'block' && (d.driver ?? spec.blockDeviceDriver) === 'virtio-scsi',
  );
  if (spec.blockDeviceDriver === 'virtio-scsi' || scsiDisks) {
    placer.place({
      type: 'scsi-controller',
      id: 'scsi0',
      ...(spec.enableIOThreads ? { iothread: 'iothread0' } : {}),
      ...modern,
    });
  }

  // RNG from entropy_source.
  if (!spec.omit?.rng) {
    placer.place({ type: 'rng', id: 'rng0', deviceId: 'rng0', filename: spec.entropySource, ...modern });
  }

  // PCIe root ports.
  if (spec.pcieRootPorts > 0) {
    if (!machine.pcie) {
      throw new PlanError(
        `Expected \`pcieRootPorts\` to be 0 on machine \`${machine.type}\` (no PCIe root bus), got ${spec.pcieRootPorts}`,
      );
    }
    for (let i = 0; i < spec.pcieRootPorts; i++) {
      placer.place({ type: 'pcie-root-port', id: `rp${i}`, chassis: 0, slot: i });
    }
  }
}

/** Whether the virtio-serial bus is planned: for the console, or the agent's virtserialport. */
export function needsVirtioSerial(spec: PlanSpec): boolean {
  return !spec.omit?.console || (!spec.omit?.agentChannel && !spec.useVsock);
}

/** Agent channel: vsock (the user's vsock device, or one at the given CID), or a virtserialport on kata.sock. */
export function placeAgentChannel(placer: DevicePlacer, spec: PlanSpec, paths: PlanPaths): void {
  if (spec.omit?.agentChannel) return;
  const vsockGiven = spec.devices.some((d) => d.kind === 'vsock');
  if (spec.useVsock && vsockGiven) return; // The user's vsock device is the agent channel.
  if (spec.useVsock) {
    // The caller (createSandbox) passes the host-unique CID it allocated; 3 when planning alone.
    const cid = spec.vsockContextId ?? 3;
    placer.place({ type: 'vsock', id: `vsock-${cid}`, contextId: cid, ...modernKnobs(spec) });
    return;
  }
  placer.place({
    type: 'char',
    driver: 'virtserialport',
    backend: 'socket',
    id: 'charch0',
    deviceId: 'channel0',
    bus: 'serial0.0',
    path: paths.agentSocket,
    name: 'agent.channel.0',
  } satisfies CharDevice);
}
