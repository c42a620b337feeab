// Confirms through QMP that every device a plan placed exists with its id, address, path and tag.
import type { QemuPlan } from '../../src/qemu/plan.js';
import type { QmpLike } from './qemu-plan-harness.js';

interface PciDeviceInfo {
  bus: number;
  slot: number;
  function: number;
  qdev_id: string;
  pci_bridge?: { bus: { number: number }; devices?: PciDeviceInfo[] };
}
interface PciBusInfo {
  bus: number;
  devices: PciDeviceInfo[];
}
interface ChardevInfo {
  label: string;
  filename: string;
}
interface BlockInfo {
  device: string;
  qdev?: string;
  inserted?: { file: string; 'node-name'?: string };
}
interface MemoryDeviceInfo {
  type: string;
  data: { id?: string; memdev?: string };
}

/** A failed expectation, with what QMP showed. */
export class PlanMismatchError extends Error {}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function check(cond: boolean, msg: string): void {
  if (!cond) throw new PlanMismatchError(msg);
}

/**
 * Queries the VM and checks every planned device; returns the number of checks made.
 * Uses qom-list /machine/peripheral (ids), query-pci (root-bus slots), qom-get devno (CCW),
 * query-chardev (socket paths), query-block (image files), query-memory-devices (nvdimm),
 * qom-get tag / mount_tag (shared fs tags).
 */
export async function verifyPlanViaQmp(qmp: QmpLike, plan: QemuPlan): Promise<number> {
  let checks = 0;
  const peripheral = await qmp.execute<{ name: string; type: string }[]>('qom-list', {
    path: '/machine/peripheral',
  });
  const names = new Set(peripheral.map((p) => p.name));
  const s390 = plan.machine.arch === 's390x';
  const pci = s390 ? [] : await qmp.execute<PciBusInfo[]>('query-pci');
  const rootDevices = pci.find((b) => b.bus === 0)?.devices ?? [];
  const chardevs = await qmp.execute<ChardevInfo[]>('query-chardev');
  const blocks = await qmp.execute<BlockInfo[]>('query-block');
  const memdevs = await qmp.execute<MemoryDeviceInfo[]>('query-memory-devices');

  const qmpPath = chardevs.find((x) => x.label === 'qmp-path');
  const plannedQmp = plan.paths.qmpSocket;
  check(
    plannedQmp === undefined
      ? qmpPath === undefined
      : qmpPath !== undefined &&
          new RegExp(`^(disconnected:)?unix:${escapeRe(plannedQmp)}(,|$)`).test(qmpPath.filename),
    `the reattach monitor is ${qmpPath?.filename}, planned ${plannedQmp}`,
  );
  checks++;

  for (const d of plan.devices) {
    check(names.has(d.id), `device ${d.id} is not under /machine/peripheral: ${[...names].join(' ')}`);
    checks++;
    if (d.addr !== undefined && !s390) {
      const want = Number.parseInt(d.addr, 16);
      const got = rootDevices.find((p) => p.qdev_id === d.id);
      check(got !== undefined, `device ${d.id} is not on root PCI bus 0 (query-pci)`);
      check(got?.slot === want, `device ${d.id} is at slot ${got?.slot}, planned ${want}`);
      checks++;
    }
    if (d.devno !== undefined) {
      const devno = await qmp.execute<string>('qom-get', {
        path: `/machine/peripheral/${d.id}`,
        property: 'devno',
      });
      check(devno === d.devno, `device ${d.id} has devno ${devno}, planned ${d.devno}`);
      checks++;
    }
    if (d.type === 'char' && d.backendId !== undefined && d.path !== undefined) {
      const c = chardevs.find((x) => x.label === d.backendId);
      check(c !== undefined, `chardev ${d.backendId} missing from query-chardev`);
      check(
        c !== undefined && new RegExp(`^(disconnected:)?unix:${escapeRe(d.path)}(,|$)`).test(c.filename),
        `chardev ${d.backendId} is ${c?.filename}, planned path ${d.path}`,
      );
      checks++;
    }
    if (d.type === 'vhost-user' && d.backendId !== undefined) {
      const c = chardevs.find((x) => x.label === d.backendId);
      check(c !== undefined, `chardev ${d.backendId} missing from query-chardev`);
      // A connected client shows only `unix:`; that QEMU connected at all proves the path.
      check(
        c?.filename.startsWith('unix:') === true,
        `chardev ${d.backendId} is ${c?.filename}, planned ${d.path}`,
      );
      checks++;
    }
    if (d.type === 'block' && d.path !== undefined) {
      // A -blockdev disk has no legacy drive name: its inserted node is the planned node name.
      const b = blocks.find((x) => x.inserted?.['node-name'] === d.backendId || x.device === d.backendId);
      check(b !== undefined, `drive ${d.backendId} missing from query-block`);
      check(
        b?.inserted?.file === d.path,
        `drive ${d.backendId} has file ${b?.inserted?.file}, planned ${d.path}`,
      );
      checks++;
    }
    if (d.type === 'nvdimm') {
      const m = memdevs.find((x) => x.type === 'nvdimm' && x.data.id === d.id);
      check(m !== undefined, `nvdimm ${d.id} missing from query-memory-devices`);
      check(m?.data.memdev === `/objects/${d.backendId}`, `nvdimm ${d.id} memdev ${m?.data.memdev}`);
      checks++;
    }
    if (d.tag !== undefined) {
      const property = d.type === 'fs' ? 'mount_tag' : 'tag';
      const path =
        d.type === 'fs' ? `/machine/peripheral/${d.id}` : `/machine/peripheral/${d.id}/virtio-backend`;
      const tag = await qmp.execute<string>('qom-get', { path, property });
      check(tag === d.tag, `device ${d.id} has tag ${tag}, planned ${d.tag}`);
      checks++;
    }
  }
  return checks;
}
