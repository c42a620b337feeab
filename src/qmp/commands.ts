// Typed QMP commands: argument and return shapes of QEMU 7.2 for everything the Kata flow sends.
// Integers are numbers, booleans are booleans; optional members are optional. The shapes are
// checked against the real QEMU's `query-qmp-schema` by test/integration/qmp-schema.test.ts.

/** Empty argument object (commands that take no arguments). */
export type QmpNoArgs = Record<string, never>;

/** Block-layer cache options shared by all block drivers (`BlockdevCacheOptions`). */
export interface QmpBlockdevCacheOptions {
  direct?: boolean;
  'no-flush'?: boolean;
}

/** Options common to every `blockdev-add` driver (`BlockdevOptions` base). */
export interface QmpBlockdevCommon {
  'node-name'?: string;
  discard?: 'ignore' | 'unmap';
  cache?: QmpBlockdevCacheOptions;
  'read-only'?: boolean;
  'auto-read-only'?: boolean;
  'force-share'?: boolean;
  'detect-zeroes'?: 'off' | 'on' | 'unmap';
}

/** A protocol-level file node (`driver: file` or `host_device`). */
export interface QmpBlockdevFile extends QmpBlockdevCommon {
  driver: 'file' | 'host_device';
  filename: string;
  aio?: 'threads' | 'native' | 'io_uring';
  locking?: 'auto' | 'on' | 'off';
}

/** A format node (`raw`, `qcow2`) on top of another node or an inline file node. */
export interface QmpBlockdevFormat extends QmpBlockdevCommon {
  driver: 'raw' | 'qcow2';
  file: string | QmpBlockdevFile;
  offset?: number;
  size?: number;
}

/** Arguments of `blockdev-add` (the drivers vmactor uses). */
export type QmpBlockdevAddArgs = QmpBlockdevFile | QmpBlockdevFormat;

/** Properties of `device_add`: `driver`, `id`, `bus` plus any qdev property of the driver. */
export interface QmpDeviceAddArgs {
  driver: string;
  id?: string;
  bus?: string;
  [prop: string]: string | number | boolean | undefined;
}

/** A memory backend (`memory-backend-ram`, `-file`, `-memfd`) for `object-add`. */
export interface QmpMemoryBackendArgs {
  'qom-type': 'memory-backend-ram' | 'memory-backend-file' | 'memory-backend-memfd';
  id: string;
  size: number;
  share?: boolean;
  prealloc?: boolean;
  merge?: boolean;
  dump?: boolean;
  'host-nodes'?: number[];
  policy?: 'default' | 'preferred' | 'bind' | 'interleave';
  reserve?: boolean;
  'mem-path'?: string;
  align?: number;
  pmem?: boolean;
  readonly?: boolean;
  'discard-data'?: boolean;
  hugetlb?: boolean;
  hugetlbsize?: number;
  seal?: boolean;
}

/** An entropy source or other simple object for `object-add`. */
export interface QmpRngObjectArgs {
  'qom-type': 'rng-random';
  id: string;
  filename?: string;
}

/** Arguments of `object-add` (the object types vmactor creates). */
export type QmpObjectAddArgs = QmpMemoryBackendArgs | QmpRngObjectArgs;

/** A socket address as used by `chardev-add` (`SocketAddressLegacy`). */
export type QmpSocketAddressLegacy =
  | { type: 'unix'; data: { path: string; abstract?: boolean; tight?: boolean } }
  | { type: 'fd'; data: { str: string } }
  | { type: 'inet'; data: { host: string; port: string; numeric?: boolean; ipv4?: boolean; ipv6?: boolean } };

/** Chardev backends vmactor attaches (`ChardevBackend`). */
export type QmpChardevBackend =
  | {
      type: 'socket';
      data: {
        addr: QmpSocketAddressLegacy;
        server?: boolean;
        wait?: boolean;
        nodelay?: boolean;
        telnet?: boolean;
        reconnect?: number;
        logfile?: string;
        logappend?: boolean;
      };
    }
  | { type: 'file'; data: { out: string; in?: string; append?: boolean; logfile?: string } }
  | { type: 'pty'; data: { logfile?: string } }
  | { type: 'null'; data: { logfile?: string } };

/** Arguments of `netdev_add` (the backends vmactor uses: tap by fd or ifname, user). */
export type QmpNetdevAddArgs =
  | {
      type: 'tap';
      id: string;
      ifname?: string;
      fd?: string;
      fds?: string;
      script?: string;
      downscript?: string;
      vhost?: boolean;
      vhostfd?: string;
      vhostfds?: string;
      vhostforce?: boolean;
      queues?: number;
      vnet_hdr?: boolean;
    }
  | { type: 'user'; id: string; ipv4?: boolean; ipv6?: boolean; net?: string; restrict?: boolean }
  | { type: 'vhost-user'; id: string; chardev: string; queues?: number; vhostforce?: boolean };

/** Migration capabilities vmactor toggles. */
export type QmpMigrationCapabilityName =
  | 'x-ignore-shared'
  | 'postcopy-ram'
  | 'auto-converge'
  | 'events'
  | 'release-ram'
  | 'xbzrle'
  | 'rdma-pin-all'
  | 'zero-blocks'
  | 'compress'
  | 'multifd'
  | 'pause-before-switchover'
  | 'return-path'
  | 'late-block-activate'
  | 'background-snapshot'
  | 'validate-uuid'
  | 'dirty-bitmaps'
  | 'block';

/** `query-status` result. */
export interface QmpStatusInfo {
  running: boolean;
  singlestep: boolean;
  status: string;
}

/** One PCI device of `query-pci`. */
export interface QmpPciDeviceInfo {
  bus: number;
  slot: number;
  function: number;
  class_info: { desc?: string; class: number };
  id: { device: number; vendor: number; subsystem?: number; 'subsystem-vendor'?: number };
  irq?: number;
  irq_pin: number;
  qdev_id: string;
  pci_bridge?: {
    bus: { number: number; secondary: number; subordinate: number };
    devices?: QmpPciDeviceInfo[];
  };
  regions: unknown[];
}

/** One entry of `query-block`. */
export interface QmpBlockInfo {
  device: string;
  qdev?: string;
  type: string;
  removable: boolean;
  locked: boolean;
  inserted?: QmpBlockDeviceInfo;
  tray_open?: boolean;
  [key: string]: unknown;
}

/** A block node as reported by `query-block` / `query-named-block-nodes`. */
export interface QmpBlockDeviceInfo {
  file: string;
  'node-name'?: string;
  ro: boolean;
  drv: string;
  encrypted: boolean;
  cache: { writeback: boolean; direct: boolean; 'no-flush': boolean };
  [key: string]: unknown;
}

/** One entry of `query-hotpluggable-cpus`. */
export interface QmpHotpluggableCpu {
  type: string;
  'vcpus-count': number;
  props: {
    'node-id'?: number;
    'socket-id'?: number;
    'die-id'?: number;
    'core-id'?: number;
    'thread-id'?: number;
  };
  'qom-path'?: string;
}

/** One entry of `query-cpus-fast`. */
export interface QmpCpuInfoFast {
  'cpu-index': number;
  'qom-path': string;
  'thread-id': number;
  props?: QmpHotpluggableCpu['props'];
  target: string;
}

/** One entry of `query-memory-devices` (`dimm`, `nvdimm`, `virtio-mem`, ...). */
export interface QmpMemoryDeviceInfo {
  type: string;
  data: {
    id?: string;
    addr?: number;
    size?: number;
    memdev?: string;
    hotplugged?: boolean;
    [key: string]: unknown;
  };
}

/** `query-migrate` result. */
export interface QmpMigrationInfo {
  status?:
    | 'none'
    | 'setup'
    | 'cancelling'
    | 'cancelled'
    | 'active'
    | 'postcopy-active'
    | 'postcopy-paused'
    | 'postcopy-recover'
    | 'completed'
    | 'failed'
    | 'colo'
    | 'pre-switchover'
    | 'device'
    | 'wait-unplug';
  'error-desc'?: string;
  [key: string]: unknown;
}

/** One entry of `query-fdsets`. */
export interface QmpFdsetInfo {
  'fdset-id': number;
  fds: { fd: number; opaque?: string }[];
}

/** One entry of `query-chardev`. */
export interface QmpChardevInfo {
  label: string;
  filename: string;
  'frontend-open': boolean;
}

/** One entry of `query-qmp-schema` (`SchemaInfo`). */
export interface QmpSchemaInfo {
  name: string;
  'meta-type': 'builtin' | 'enum' | 'array' | 'object' | 'alternate' | 'command' | 'event';
  features?: string[];
  [key: string]: unknown;
}

/** Every typed command: `args` is what the command takes, `ret` what QEMU returns. */
export interface QmpCommandMap {
  qmp_capabilities: { args: { enable?: 'oob'[] }; ret: Record<string, never> };
  stop: { args: QmpNoArgs; ret: Record<string, never> };
  cont: { args: QmpNoArgs; ret: Record<string, never> };
  quit: { args: QmpNoArgs; ret: Record<string, never> };
  system_powerdown: { args: QmpNoArgs; ret: Record<string, never> };
  system_reset: { args: QmpNoArgs; ret: Record<string, never> };
  'query-status': { args: QmpNoArgs; ret: QmpStatusInfo };
  'query-version': {
    args: QmpNoArgs;
    ret: { qemu: { major: number; minor: number; micro: number }; package: string };
  };
  'query-commands': { args: QmpNoArgs; ret: { name: string }[] };
  'query-qmp-schema': { args: QmpNoArgs; ret: QmpSchemaInfo[] };
  'query-pci': { args: QmpNoArgs; ret: { bus: number; devices: QmpPciDeviceInfo[] }[] };
  'query-block': { args: QmpNoArgs; ret: QmpBlockInfo[] };
  'query-named-block-nodes': { args: { flat?: boolean }; ret: QmpBlockDeviceInfo[] };
  'query-chardev': { args: QmpNoArgs; ret: QmpChardevInfo[] };
  'query-hotpluggable-cpus': { args: QmpNoArgs; ret: QmpHotpluggableCpu[] };
  'query-cpus-fast': { args: QmpNoArgs; ret: QmpCpuInfoFast[] };
  'query-memory-devices': { args: QmpNoArgs; ret: QmpMemoryDeviceInfo[] };
  'query-memory-size-summary': { args: QmpNoArgs; ret: { 'base-memory': number; 'plugged-memory'?: number } };
  'query-migrate': { args: QmpNoArgs; ret: QmpMigrationInfo };
  'query-balloon': { args: QmpNoArgs; ret: { actual: number } };
  'query-fdsets': { args: QmpNoArgs; ret: QmpFdsetInfo[] };
  'blockdev-add': { args: QmpBlockdevAddArgs; ret: Record<string, never> };
  'blockdev-del': { args: { 'node-name': string }; ret: Record<string, never> };
  device_add: { args: QmpDeviceAddArgs; ret: Record<string, never> };
  device_del: { args: { id: string }; ret: Record<string, never> };
  'device-list-properties': {
    args: { typename: string };
    ret: { name: string; type: string; description?: string; 'default-value'?: unknown }[];
  };
  'object-add': { args: QmpObjectAddArgs; ret: Record<string, never> };
  'object-del': { args: { id: string }; ret: Record<string, never> };
  'chardev-add': { args: { id: string; backend: QmpChardevBackend }; ret: { pty?: string } };
  'chardev-remove': { args: { id: string }; ret: Record<string, never> };
  getfd: { args: { fdname: string }; ret: Record<string, never> };
  closefd: { args: { fdname: string }; ret: Record<string, never> };
  'add-fd': { args: { 'fdset-id'?: number; opaque?: string }; ret: { 'fdset-id': number; fd: number } };
  'remove-fd': { args: { 'fdset-id': number; fd?: number }; ret: Record<string, never> };
  netdev_add: { args: QmpNetdevAddArgs; ret: Record<string, never> };
  netdev_del: { args: { id: string }; ret: Record<string, never> };
  'qom-get': { args: { path: string; property: string }; ret: unknown };
  'qom-set': { args: { path: string; property: string; value: unknown }; ret: Record<string, never> };
  'qom-list': { args: { path: string }; ret: { name: string; type: string }[] };
  migrate: {
    args: { uri: string; blk?: boolean; inc?: boolean; detach?: boolean; resume?: boolean };
    ret: Record<string, never>;
  };
  'migrate-incoming': { args: { uri: string }; ret: Record<string, never> };
  'migrate-set-capabilities': {
    args: { capabilities: { capability: QmpMigrationCapabilityName; state: boolean }[] };
    ret: Record<string, never>;
  };
  migrate_cancel: { args: QmpNoArgs; ret: Record<string, never> };
  'dump-guest-memory': {
    args: {
      paging: boolean;
      protocol: string;
      detach?: boolean;
      begin?: number;
      length?: number;
      format?: 'elf' | 'kdump-zlib' | 'kdump-lzo' | 'kdump-snappy' | 'win-dmp';
    };
    ret: Record<string, never>;
  };
  'query-dump': {
    args: QmpNoArgs;
    ret: { status: 'none' | 'active' | 'completed' | 'failed'; completed: number; total: number };
  };
  balloon: { args: { value: number }; ret: Record<string, never> };
}

/** Name of a typed QMP command. */
export type QmpCommandName = keyof QmpCommandMap;

/** Arguments of command `K`. */
export type QmpArgs<K extends QmpCommandName> = QmpCommandMap[K]['args'];

/** What command `K` returns. */
export type QmpReturn<K extends QmpCommandName> = QmpCommandMap[K]['ret'];
