// Reattach step "reconcile": the persisted device record against the live QEMU (query-pci/-block/-memory-devices/-hotpluggable-cpus), live QEMU wins; then an interrupted operation is finished or rolled back.
import type { DeviceRecordData, DimmEntry, VcpuEntry } from '../devices/record-types.js';
import type { QmpClient } from '../qmp/client.js';
import type { QmpPciDeviceInfo } from '../qmp/commands.js';
import type { OperationInFlight } from './state-schema.js';

/** What the live QEMU has, by device id. */
export interface LiveDevices {
  /** Every user-created device id (`/machine/peripheral/<id>`), from the four queries. */
  readonly ids: ReadonlySet<string>;
  /** Block node names attached to devices (query-block `inserted.node-name`). */
  readonly blockNodes: ReadonlySet<string>;
  readonly vcpus: readonly VcpuEntry[];
  readonly dimms: readonly DimmEntry[];
}

/** What reconciling found and did. */
export interface ReconcileResult {
  readonly record: DeviceRecordData;
  /** Differences between the record and QEMU (each one line; the live QEMU won). */
  readonly differences: string[];
  /** What was done about the interrupted operation. */
  readonly recovered: string[];
}

const PERIPHERAL = '/machine/peripheral/';

/** `/machine/peripheral/<id>[/...]` → `<id>`. */
function peripheralId(path: string | undefined): string | undefined {
  if (!path?.startsWith(PERIPHERAL)) return undefined;
  return path.slice(PERIPHERAL.length).split('/')[0] || undefined;
}

function pciIds(devices: readonly QmpPciDeviceInfo[], out: Set<string>): void {
  for (const d of devices) {
    if (d.qdev_id) out.add(d.qdev_id);
    if (d.pci_bridge?.devices) pciIds(d.pci_bridge.devices, out);
  }
}

/** Reads what QEMU really has: four queries (libvirt reconnects with the same kind of probes). */
export async function liveDevices(qmp: QmpClient, timeoutMs: number): Promise<LiveDevices> {
  const opts = { timeoutMs };
  const [pci, block, mem, cpus] = await Promise.all([
    qmp.execute('query-pci', undefined, opts),
    qmp.execute('query-block', undefined, opts),
    qmp.execute('query-memory-devices', undefined, opts),
    qmp.execute('query-hotpluggable-cpus', undefined, opts),
  ]);
  const ids = new Set<string>();
  for (const bus of pci) pciIds(bus.devices, ids);
  const blockNodes = new Set<string>();
  for (const b of block) {
    const id = peripheralId(b.qdev) ?? (b.qdev && !b.qdev.startsWith('/') ? b.qdev : undefined);
    if (id) ids.add(id);
    const node = b.inserted?.['node-name'];
    if (node) blockNodes.add(node);
  }
  const dimms: DimmEntry[] = [];
  for (const m of mem) {
    const id = m.data.id;
    if (!id) continue;
    ids.add(id);
    if (m.type === 'dimm') {
      const memdev = typeof m.data.memdev === 'string' ? (m.data.memdev.split('/').pop() ?? '') : '';
      const slot = typeof m.data.slot === 'number' ? m.data.slot : -1;
      dimms.push({
        id,
        backendId: memdev,
        slot,
        sizeMiB: Math.round((m.data.size ?? 0) / (1024 * 1024)),
        ...(m.data.addr === undefined ? {} : { addr: m.data.addr }),
      });
    }
  }
  const vcpus: VcpuEntry[] = [];
  for (const c of cpus) {
    const id = peripheralId(c['qom-path']);
    if (!id) continue;
    ids.add(id);
    const props: Record<string, number> = {};
    for (const [k, v] of Object.entries(c.props)) if (typeof v === 'number') props[k] = v;
    vcpus.push({ id, props });
  }
  return { ids, blockNodes, vcpus, dimms };
}

/** The record without device `id` (its bridge slot and root port freed). */
function withoutDevice(r: DeviceRecordData, id: string): DeviceRecordData {
  return {
    ...r,
    devices: r.devices.filter((d) => d.id !== id),
    bridges: r.bridges.map((b) => ({
      ...b,
      devices: Object.fromEntries(Object.entries(b.devices).filter(([, dev]) => dev !== id)),
    })),
    rootPorts: Object.fromEntries(
      Object.entries(r.rootPorts).map(([port, dev]) => [port, dev === id ? null : dev]),
    ),
  };
}

/** Ids the plan put on QEMU's command line (bridges, controllers, platform devices): not in the record, not foreign. */
export function plannedIds(argv: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const a of argv) {
    for (const m of a.matchAll(/"id":"([^"]+)"/g)) if (m[1]) out.add(m[1]);
    for (const m of a.matchAll(/(?:^|,)id=([^,]+)/g)) if (m[1]) out.add(m[1]);
  }
  return out;
}

/**
 * Reconciles the persisted record with the live QEMU: a device, vCPU, DIMM or virtio-mem device
 * the record has and QEMU does not is dropped (slots freed); vCPUs and DIMMs QEMU has and the
 * record does not are added (their facts come from QEMU); any other device QEMU has that neither
 * the record nor the command line knows is reported. Pure: `live` comes from {@link liveDevices}.
 *
 * @example
 * ```ts
 * const { record, differences } = reconcileRecord(state.devices, await liveDevices(qmp, 5000), state.argv);
 * ```
 */
export function reconcileRecord(
  saved: DeviceRecordData,
  live: LiveDevices,
  argv: readonly string[],
): { record: DeviceRecordData; differences: string[] } {
  const differences: string[] = [];
  let r = saved;
  for (const d of saved.devices) {
    if (!live.ids.has(d.id)) {
      differences.push(`device \`${d.id}\` (${d.origin}) is in the record but not in QEMU: dropped`);
      r = withoutDevice(r, d.id);
    } else if (d.backends.node && !live.blockNodes.has(d.backends.node)) {
      differences.push(`device \`${d.id}\`'s block node \`${d.backends.node}\` is not attached in QEMU`);
    }
  }
  const liveVcpus = new Map(live.vcpus.map((v) => [v.id, v]));
  const vcpus = r.vcpus.filter((v) => {
    if (liveVcpus.has(v.id)) return true;
    differences.push(`vCPU \`${v.id}\` is in the record but not in QEMU: dropped`);
    return false;
  });
  for (const v of live.vcpus) {
    if (!vcpus.some((x) => x.id === v.id)) {
      differences.push(`vCPU \`${v.id}\` is in QEMU but not in the record: added`);
      vcpus.push(v);
    }
  }
  const liveDimms = new Map(live.dimms.map((d) => [d.id, d]));
  const dimms = r.dimms.filter((d) => {
    if (liveDimms.has(d.id)) return true;
    differences.push(`DIMM \`${d.id}\` is in the record but not in QEMU: dropped`);
    return false;
  });
  for (const d of live.dimms) {
    if (!dimms.some((x) => x.id === d.id)) {
      differences.push(`DIMM \`${d.id}\` is in QEMU but not in the record: added`);
      dimms.push(d);
    }
  }
  let virtioMem = r.virtioMem;
  if (virtioMem && !live.ids.has(virtioMem.id)) {
    differences.push(`virtio-mem \`${virtioMem.id}\` is in the record but not in QEMU: dropped`);
    virtioMem = null;
  }
  const hotpluggedMemoryMiB = virtioMem ? virtioMem.requestedMiB : dimms.reduce((n, d) => n + d.sizeMiB, 0);
  const maxVcpu = vcpus.reduce((n, v) => Math.max(n, Number(/(\d+)$/.exec(v.id)?.[1] ?? -1) + 1), r.nextVcpu);
  r = { ...r, vcpus, dimms, virtioMem, hotpluggedMemoryMiB, nextVcpu: maxVcpu };
  const known = new Set([
    ...r.devices.map((d) => d.id),
    ...vcpus.map((v) => v.id),
    ...dimms.map((d) => d.id),
    ...(virtioMem ? [virtioMem.id] : []),
    ...plannedIds(argv),
    ...r.bridges.map((b) => b.id),
    ...Object.keys(r.rootPorts),
  ]);
  for (const id of live.ids) {
    if (!known.has(id))
      differences.push(`device \`${id}\` is in QEMU but neither in the record nor on the command line`);
  }
  return { record: r, differences };
}

/** The device id an interrupted hotplug/unplug was about. */
function deviceOf(op: OperationInFlight): string | undefined {
  const o = op.op;
  if (op.kind === 'unplug' && typeof o.id === 'string') return o.id;
  const device = o.device;
  if (op.kind === 'hotplug' && typeof device === 'object' && device !== null) {
    const id = (device as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  }
  return undefined;
}

/**
 * Finishes or rolls back the operation the dead controller had in flight, against the reconciled
 * record: a hot plug QEMU completed and the record has is kept; one QEMU has but the record lacks
 * is rolled back (`device_del` → `DEVICE_DELETED` within the deadline → `blockdev-del`); a backend
 * added without its device is removed. An unplug whose device is gone is finished (backend
 * removed). A template save (an active migration) is cancelled, and the VM resumed if it was
 * running before. Every step is reported.
 */
export async function recoverOperation(
  qmp: QmpClient,
  op: OperationInFlight | null,
  record: DeviceRecordData,
  live: LiveDevices,
  opts: { timeoutMs: number; paused: boolean },
): Promise<{ record: DeviceRecordData; recovered: string[] }> {
  const recovered: string[] = [];
  const cmd = { timeoutMs: opts.timeoutMs };
  // Missed migration events: one query-migrate says where a save stands.
  const mig = await qmp.execute('query-migrate', undefined, cmd);
  if (mig.status === 'active' || mig.status === 'setup' || mig.status === 'pre-switchover') {
    await qmp.execute('migrate_cancel', undefined, cmd);
    recovered.push(`migration \`${mig.status}\` cancelled`);
    if (op?.vmPhase === 'running' && opts.paused) {
      await qmp.execute('cont', undefined, cmd);
      recovered.push('resumed (the VM was running before the interrupted save)');
    }
  }
  if (!op) return { record, recovered };
  const id = deviceOf(op);
  if (id === undefined) {
    recovered.push(`\`${op.kind}\` \`${op.id}\` was in flight: the record follows QEMU`);
    return { record, recovered };
  }
  const node = `drive-${id}`;
  const inRecord = record.devices.some((d) => d.id === id);
  const inQemu = live.ids.has(id);
  const dropNode = async () => {
    if (!live.blockNodes.has(node)) {
      // A backend added without its device is not attached: try it by name, absent is fine.
      await qmp.execute('blockdev-del', { 'node-name': node }, cmd).catch(() => undefined);
      return;
    }
    await qmp.execute('blockdev-del', { 'node-name': node }, cmd).catch(() => undefined);
    recovered.push(`block node \`${node}\` removed`);
  };
  if (op.kind === 'hotplug') {
    if (inQemu && inRecord) {
      recovered.push(`hotplug of \`${id}\` had completed: kept`);
    } else if (inQemu) {
      // Rolled back like a failed hot plug. A guest that cannot ack device_del (paused, PCI) misses
      // the deadline: the sandbox is then unreconcilable (the caller kills and cleans it).
      await qmp.executeAndWaitFor(
        'device_del',
        { id },
        (e) => e.event === 'DEVICE_DELETED' && e.data.device === id,
        cmd,
      );
      await dropNode();
      recovered.push(`hotplug of \`${id}\` half done: rolled back`);
    } else {
      await dropNode();
      recovered.push(`hotplug of \`${id}\` never reached QEMU's device_add: rolled back`);
    }
  } else if (op.kind === 'unplug') {
    if (inQemu) {
      recovered.push(`unplug of \`${id}\` did not complete: the device stays`);
      record = {
        ...record,
        devices: record.devices.map((d) => (d.id === id ? { ...d, pendingRemoval: false } : d)),
      };
    } else {
      await dropNode();
      recovered.push(`unplug of \`${id}\` had completed in QEMU: finished`);
    }
  }
  return { record, recovered };
}
