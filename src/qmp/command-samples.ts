import type { QmpArgs, QmpCommandName } from './commands.js';

/** One sample invocation of a command the project sends, validated against QEMU's schema. */
export interface QmpCommandSample {
  /** What the sample stands for (the Kata/govmm call it mirrors). */
  readonly title: string;
  readonly command: QmpCommandName;
  readonly args: Record<string, unknown> | undefined;
  /** QEMU targets whose build has this device driver (device_add only); default: every target. */
  readonly targets?: readonly string[];
}

/**
 * Builds a typed sample: the arguments are checked by TypeScript against `QmpCommandMap`, and by
 * the schema test against the real QEMU.
 *
 * @example
 * ```ts
 * const s = qmpSample('pause the VM', 'stop');
 * ```
 */
export function qmpSample<K extends QmpCommandName>(
  title: string,
  command: K,
  args?: QmpArgs<K>,
  targets?: readonly string[],
): QmpCommandSample {
  const a = args as Record<string, unknown> | undefined;
  return targets ? { title, command, args: a, targets } : { title, command, args: a };
}

const GiB = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

/**
 * Every command shape vmactor sends (mirroring govmm's `Execute*` calls as Kata's qemu.go uses
 * them), with QEMU 7.2 argument shapes. Code that sends a new shape adds a sample here (or
 * validates its own list with `QmpSchema.check`); test/integration/qmp-schema.test.ts checks
 * them all against the real QEMU's `query-qmp-schema` and `device-list-properties`.
 */
export const qmpCommandSamples: readonly QmpCommandSample[] = [
  // lifecycle
  qmpSample('negotiate capabilities (ExecuteQMPCapabilities)', 'qmp_capabilities'),
  qmpSample('pause (ExecuteStop)', 'stop'),
  qmpSample('resume (ExecuteCont)', 'cont'),
  qmpSample('quit (ExecuteQuit)', 'quit'),
  qmpSample('ACPI power button (ExecuteSystemPowerdown)', 'system_powerdown'),
  // queries
  qmpSample('run state (ExecuteQueryStatus)', 'query-status'),
  qmpSample('PCI topology (ExecuteQueryPCI)', 'query-pci'),
  qmpSample('block devices', 'query-block'),
  qmpSample('named block nodes', 'query-named-block-nodes', { flat: true }),
  qmpSample('chardevs', 'query-chardev'),
  qmpSample('hotpluggable CPU slots (ExecuteQueryHotpluggableCPUs)', 'query-hotpluggable-cpus'),
  qmpSample('vCPU threads (ExecuteQueryCpusFast)', 'query-cpus-fast'),
  qmpSample('memory devices (ExecQueryMemoryDevices)', 'query-memory-devices'),
  qmpSample('migration progress (ExecuteQueryMigration)', 'query-migrate'),
  qmpSample('fd sets', 'query-fdsets'),
  qmpSample('schema', 'query-qmp-schema'),
  qmpSample('version', 'query-version'),
  // block (ExecuteBlockdevAdd / ExecuteBlockdevAddWithCache / ExecuteBlockdevDel)
  qmpSample('raw file node (ExecuteBlockdevAdd)', 'blockdev-add', {
    driver: 'raw',
    'node-name': 'drive-0',
    'read-only': false,
    file: { driver: 'file', filename: '/run/vmactor/sb/disk.img' },
  }),
  qmpSample('raw file node with cache options (ExecuteBlockdevAddWithCache)', 'blockdev-add', {
    driver: 'raw',
    'node-name': 'drive-1',
    'read-only': true,
    cache: { direct: true, 'no-flush': false },
    file: { driver: 'file', filename: '/dev/fdset/1', cache: { direct: true, 'no-flush': false } },
  }),
  qmpSample('host block device node', 'blockdev-add', {
    driver: 'raw',
    'node-name': 'drive-2',
    file: { driver: 'host_device', filename: '/dev/loop0', aio: 'native', cache: { direct: true } },
  }),
  qmpSample('remove block node (ExecuteBlockdevDel)', 'blockdev-del', { 'node-name': 'drive-0' }),
  // device_add families
  qmpSample('virtio-blk on a PCI bridge (ExecutePCIDeviceAdd)', 'device_add', {
    driver: 'virtio-blk-pci',
    id: 'virtio-drive-0',
    drive: 'drive-0',
    bus: 'pci-bridge-0',
    addr: '0x1',
    'share-rw': true,
    'config-wce': false,
    romfile: '',
  }),
  qmpSample('SCSI disk (ExecuteSCSIDeviceAdd)', 'device_add', {
    driver: 'scsi-hd',
    id: 'scsi-drive-0',
    drive: 'drive-0',
    bus: 'scsi0.0',
    'scsi-id': 0,
    lun: 1,
  }),
  qmpSample(
    'virtio-blk on CCW (ExecuteDeviceAdd, s390x)',
    'device_add',
    {
      driver: 'virtio-blk-ccw',
      id: 'virtio-drive-0',
      drive: 'drive-0',
      devno: 'fe.0.0001',
      'share-rw': true,
    },
    ['s390x'],
  ),
  qmpSample('vCPU (ExecuteCPUDeviceAdd)', 'device_add', {
    driver: 'qemu64-x86_64-cpu',
    id: 'cpu-1',
    'socket-id': 1,
    'core-id': 0,
    'thread-id': 0,
  }),
  qmpSample('memory backend for a DIMM (ExecHotplugMemory)', 'object-add', {
    'qom-type': 'memory-backend-ram',
    id: 'mem1',
    size: 128 * MiB,
  }),
  qmpSample('shared file memory backend (ExecHotplugMemory with file)', 'object-add', {
    'qom-type': 'memory-backend-file',
    id: 'mem2',
    size: 128 * MiB,
    'mem-path': '/dev/shm',
    share: true,
  }),
  qmpSample('pc-dimm (ExecHotplugMemory)', 'device_add', { driver: 'pc-dimm', id: 'dimm1', memdev: 'mem1' }),
  qmpSample('NVDIMM backend (ExecuteNVDIMMDeviceAdd)', 'object-add', {
    'qom-type': 'memory-backend-file',
    id: 'nvdimmbackmem0',
    'mem-path': '/run/vmactor/sb/rootfs.img',
    size: 1 * GiB,
    share: true,
    pmem: false,
    align: 2 * MiB,
  }),
  qmpSample('NVDIMM (ExecuteNVDIMMDeviceAdd)', 'device_add', {
    driver: 'nvdimm',
    id: 'nvdimm0',
    memdev: 'nvdimmbackmem0',
  }),
  qmpSample('virtio-mem device (ExecuteVirtioMemDeviceAdd)', 'device_add', {
    driver: 'virtio-mem-pci',
    id: 'virtiomem0',
    memdev: 'mem1',
    'requested-size': 0,
    bus: 'pcie.0',
    addr: '0x5',
  }),
  qmpSample('virtio-mem resize (qom-set requested-size)', 'qom-set', {
    path: 'virtiomem0',
    property: 'requested-size',
    value: 256 * MiB,
  }),
  qmpSample('VFIO host device (ExecuteVFIODeviceAdd)', 'device_add', {
    driver: 'vfio-pci',
    id: 'vfio-0',
    host: '0000:3d:00.0',
    romfile: '',
  }),
  qmpSample('VFIO mediated device on a bridge (ExecutePCIVFIOMediatedDeviceAdd)', 'device_add', {
    driver: 'vfio-pci',
    id: 'vfio-1',
    sysfsdev: '/sys/bus/mdev/devices/c0e0b1ac-0000-0000-0000-000000000000',
    bus: 'pci-bridge-0',
    addr: '0x2',
  }),
  qmpSample('vhost-user chardev (ExecuteCharDevUnixSocketAdd)', 'chardev-add', {
    id: 'char-vhost-0',
    backend: {
      type: 'socket',
      data: {
        addr: { type: 'unix', data: { path: '/run/vmactor/sb/vhost.sock' } },
        server: false,
        wait: false,
      },
    },
  }),
  qmpSample('vhost-user-blk (ExecutePCIVhostUserDevAdd)', 'device_add', {
    driver: 'vhost-user-blk-pci',
    id: 'vhost-user-blk-0',
    chardev: 'char-vhost-0',
    bus: 'pci-bridge-0',
    addr: '0x3',
  }),
  qmpSample('vhost-user-scsi (ExecutePCIVhostUserDevAdd)', 'device_add', {
    driver: 'vhost-user-scsi-pci',
    id: 'vhost-user-scsi-0',
    chardev: 'char-vhost-0',
    bus: 'pci-bridge-0',
    addr: '0x4',
  }),
  qmpSample('vhost-user-fs (virtio-fs hotplug)', 'device_add', {
    driver: 'vhost-user-fs-pci',
    id: 'vhost-user-fs-0',
    chardev: 'char-vhost-0',
    tag: 'kataShared',
    'queue-size': 1024,
  }),
  qmpSample('remove a chardev (ExecuteChardevDel)', 'chardev-remove', { id: 'char-vhost-0' }),
  // network (ExecuteGetFD + ExecuteNetdevAddByFds + ExecuteNetPCIDeviceAdd)
  qmpSample('pass a tap fd by name (ExecuteGetFD)', 'getfd', { fdname: 'fd-tap0-0' }),
  qmpSample('add an fd to an fd set', 'add-fd', { 'fdset-id': 1, opaque: 'disk' }),
  qmpSample('release an fd set entry', 'remove-fd', { 'fdset-id': 1 }),
  qmpSample('tap netdev from fds (ExecuteNetdevAddByFds)', 'netdev_add', {
    type: 'tap',
    id: 'network-0',
    fds: 'fd-tap0-0:fd-tap0-1',
    vhost: true,
    vhostfds: 'fd-vhost0-0:fd-vhost0-1',
  }),
  qmpSample('tap netdev from one fd', 'netdev_add', { type: 'tap', id: 'network-1', fd: 'fd-tap1-0' }),
  qmpSample('tap netdev by ifname', 'netdev_add', {
    type: 'tap',
    id: 'network-2',
    ifname: 'tap0',
    script: 'no',
    downscript: 'no',
  }),
  qmpSample('virtio-net on PCI (ExecuteNetPCIDeviceAdd)', 'device_add', {
    driver: 'virtio-net-pci',
    id: 'virtio-network-0',
    netdev: 'network-0',
    mac: '02:00:ca:fe:00:01',
    bus: 'pci-bridge-0',
    addr: '0x5',
    mq: true,
    vectors: 6,
    romfile: '',
  }),
  qmpSample(
    'virtio-net on CCW (ExecuteNetCCWDeviceAdd, s390x)',
    'device_add',
    {
      driver: 'virtio-net-ccw',
      id: 'virtio-network-0',
      netdev: 'network-0',
      mac: '02:00:ca:fe:00:01',
      devno: 'fe.0.0002',
    },
    ['s390x'],
  ),
  qmpSample('remove a netdev (ExecuteNetdevDel)', 'netdev_del', { id: 'network-0' }),
  qmpSample('remove a device (ExecuteDeviceDel)', 'device_del', { id: 'virtio-drive-0' }),
  qmpSample('remove an object', 'object-del', { id: 'mem1' }),
  // QOM
  qmpSample('read a QOM property', 'qom-get', { path: '/machine', property: 'type' }),
  // templates / migration (ExecSetMigrationCaps, ExecSetMigrateArguments, ExecuteMigrationIncoming)
  qmpSample(
    'share memory across template clones (setIgnoreSharedMemoryMigrationCaps)',
    'migrate-set-capabilities',
    {
      capabilities: [{ capability: 'x-ignore-shared', state: true }],
    },
  ),
  qmpSample('save device state (ExecSetMigrateArguments)', 'migrate', {
    uri: 'exec:cat>/run/vmactor/sb/state',
  }),
  qmpSample('restore device state (ExecuteMigrationIncoming)', 'migrate-incoming', {
    uri: 'exec:cat /run/vmactor/sb/state',
  }),
  // guest memory dump on panic, balloon
  qmpSample('dump guest memory (ExecuteDumpGuestMemory)', 'dump-guest-memory', {
    paging: false,
    protocol: 'file:/run/vmactor/sb/vmcore',
    format: 'elf',
  }),
  qmpSample('balloon target (ExecuteBalloon)', 'balloon', { value: 512 * MiB }),
];
