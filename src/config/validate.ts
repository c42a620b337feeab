// validateConfig: user SandboxConfig (unknown JSON) -> normalized ValidatedConfig, or one ConfigError listing every issue.
//
// Hand-written rather than zod/valibot: no schema library is installed here, the rules are mostly
// cross-field (the seeds' valid()/checkTemplateConfig and qemu.go's refusals), and we want exact
// execa-style messages with `devices[2].file` paths for every problem at once. The checkers in
// checks.ts are ~150 lines and keep the config layer dependency-free.
//
// Validation is pure: it reads no files and launches nothing. Whether kernel/image/initrd/device
// files exist is checked at launch time (QEMU's own refusal becomes a typed error there).
import { availableParallelism, totalmem } from 'node:os';
import {
  absPath,
  arrayOf,
  at,
  bool,
  type Checker,
  checkObject,
  command,
  expected,
  type Issues,
  isPlainObject,
  nonEmptyText,
  oneOf,
  own,
  params,
  report,
  show,
  text,
  uint,
} from './checks.js';
import { ConfigError } from './config-error.js';
import {
  ARCH_DEFAULTS,
  DEFAULT_BLOCK_DRIVER,
  DEFAULT_BRIDGES,
  DEFAULT_ENTROPY_SOURCE,
  DEFAULT_MEM_SLOTS,
  DEFAULT_MEMORY_MIB,
  DEFAULT_MSIZE_9P,
  DEFAULT_SHARED_FS,
  DEFAULT_VCPUS,
  DEFAULT_VIRTIOFS_CACHE,
  DEFAULT_VIRTIOFS_CACHE_SIZE,
  DEFAULT_VIRTIOFS_DAEMON,
  hostArch,
  MAX_BRIDGES,
  MIN_HYPERVISOR_MEMORY_MIB,
  VIRTIOFS_CACHE_MODES,
} from './defaults.js';
import {
  ARCHES,
  type Arch,
  BLOCK_DEVICE_DRIVERS,
  type BlockDeviceDriver,
  type ColdPlugDevice,
  type HypervisorConfig,
  type Param,
  SHARED_FS_KINDS,
  type SharedFS,
  type ValidatedConfig,
} from './types.js';

/** Options of `validateConfig`: host facts (default: this host) and fallback guest assets. */
export interface ValidateOptions {
  /** Host CPUs (default `os.availableParallelism()`): the default and cap-source of `defaultMaxVCPUs`. */
  readonly hostCpus?: number;
  /** Host memory in MiB (default `os.totalmem()`): `memorySize` may not exceed it (it is QEMU's maxmem). */
  readonly hostMemoryMiB?: number;
  /** Guest architecture when the config does not say (default: this host's). */
  readonly arch?: Arch;
  /** Assets used when the config gives none (e.g. the project's default guest). */
  readonly defaults?: {
    readonly kernelPath?: string;
    readonly initrdPath?: string;
    readonly imagePath?: string;
  };
}

/** Sandbox ids: ASCII, start alphanumeric, ≤ 64 chars, no `..` (they name run dirs and sockets). */
export const SANDBOX_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** QEMU device ids: start with a letter; ≤ 31 chars (seeds' `maxDevIDSize`). */
export const DEVICE_ID_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,30}$/;
const MAC_RE = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const BDF_RE = /^([0-9A-Fa-f]{4}:)?[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7]$/;
const SECCOMP_RE = /^(on|off)(,[a-z]+=[a-z]+)*$/;
/** Unix socket paths must fit `sun_path` (108 bytes with the NUL). */
const MAX_SOCKET_PATH_BYTES = 107;
/** virtio-fs tags are at most 36 bytes (virtio spec). */
const MAX_VIRTIOFS_TAG_BYTES = 36;
/** Largest guest CID (0xffffffff is VMADDR_CID_ANY). */
const MAX_CID = 0xffff_fffe;

const sandboxId: Checker<string> = (issues, path, value) => {
  if (typeof value === 'string' && SANDBOX_ID_RE.test(value) && !value.includes('..')) return value;
  return expected(
    issues,
    path,
    'an ASCII id matching /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/ without `..`',
    value,
  );
};

const deviceId: Checker<string> = (issues, path, value) =>
  typeof value === 'string' && DEVICE_ID_RE.test(value)
    ? value
    : expected(issues, path, 'a device id matching /^[A-Za-z][A-Za-z0-9_.-]{0,30}$/', value);

function pattern(re: RegExp, what: string): Checker<string> {
  return (issues, path, value) =>
    typeof value === 'string' && re.test(value) ? value : expected(issues, path, what, value);
}

const socketPath: Checker<string> = (issues, path, value) => {
  const p = absPath(false)(issues, path, value);
  if (p === undefined) return undefined;
  if (Buffer.byteLength(p) > MAX_SOCKET_PATH_BYTES) {
    return expected(issues, path, `a Unix socket path of at most ${MAX_SOCKET_PATH_BYTES} bytes`, value);
  }
  return p;
};

const fdList: Checker<number[]> = (issues, path, value) => {
  const fds = arrayOf(uint(0, 65535, 'a file descriptor number'))(issues, path, value);
  if (fds !== undefined && fds.length === 0) return expected(issues, path, 'a non-empty array of fds', value);
  return fds;
};

/** The hypervisor keys users may give, with their checkers. */
export const HYPERVISOR_FIELDS: Readonly<Record<keyof HypervisorConfig, Checker<unknown>>> = {
  arch: oneOf(ARCHES),
  numVCPUs: uint(),
  defaultMaxVCPUs: uint(),
  memorySize: uint(0, undefined, 'an integer ≥ 256 (MiB)'),
  defaultBridges: uint(),
  msize9p: uint(),
  memSlots: uint(),
  memOffset: uint(),
  virtioFSCacheSize: uint(),
  kernelParams: params,
  hypervisorParams: params,
  kernelPath: absPath(true),
  imagePath: absPath(true),
  initrdPath: absPath(true),
  firmwarePath: absPath(true),
  machineAccelerators: text,
  cpuFeatures: text,
  hypervisorPath: command,
  blockDeviceDriver: oneOf(BLOCK_DEVICE_DRIVERS),
  hypervisorMachineType: text,
  memoryPath: absPath(true),
  devicesStatePath: absPath(true),
  entropySource: absPath(true),
  sharedFS: oneOf(SHARED_FS_KINDS),
  virtioFSDaemon: command,
  virtioFSCache: oneOf(VIRTIOFS_CACHE_MODES),
  virtioFSExtraArgs: arrayOf(text),
  fileBackedMemRootDir: absPath(true),
  pflash: arrayOf(absPath(false)),
  blockDeviceCacheSet: bool,
  blockDeviceCacheDirect: bool,
  blockDeviceCacheNoflush: bool,
  disableBlockDeviceUse: bool,
  enableIOThreads: bool,
  debug: bool,
  memPrealloc: bool,
  hugePages: bool,
  virtioMem: bool,
  iommu: bool,
  iommuPlatform: bool,
  realtime: bool,
  mlock: bool,
  disableNestingChecks: bool,
  useVSock: bool,
  disableImageNvdimm: bool,
  hotplugVFIOOnRootBus: bool,
  pcieRootPort: uint(),
  bootToBeTemplate: bool,
  bootFromTemplate: bool,
  disableVhostNet: bool,
  enableVhostUserStore: bool,
  vhostUserStorePath: absPath(true),
  guestMemoryDumpPath: absPath(true),
  guestMemoryDumpPaging: bool,
  seccompSandbox: pattern(SECCOMP_RE, 'a `-sandbox` value like `on,obsolete=deny,spawn=deny`'),
};

/** Every key of `HypervisorConfig`, in declaration order. */
export const HYPERVISOR_KEYS = Object.keys(HYPERVISOR_FIELDS) as readonly (keyof HypervisorConfig)[];

const DEVICE_FIELDS: Readonly<Record<string, Readonly<Record<string, Checker<unknown>>>>> = {
  block: {
    kind: text,
    id: deviceId,
    file: absPath(false),
    format: oneOf(['raw', 'qcow2']),
    driver: oneOf(BLOCK_DEVICE_DRIVERS),
    readOnly: bool,
    shareRW: bool,
    aio: oneOf(['threads', 'native', 'io_uring']),
    cache: oneOf(['none', 'writeback', 'writethrough', 'directsync', 'unsafe']),
  },
  net: {
    kind: text,
    id: deviceId,
    ifname: pattern(IFNAME_RE, 'an interface name of 1-15 characters [A-Za-z0-9_.-]'),
    fds: fdList,
    mac: pattern(MAC_RE, 'a MAC address like `02:00:00:00:00:01`'),
    queues: uint(1, 256),
    vhost: bool,
    vhostFds: fdList,
  },
  'virtio-fs': {
    kind: text,
    type: text,
    id: deviceId,
    tag: nonEmptyText,
    sharedDir: absPath(false),
    cache: oneOf(VIRTIOFS_CACHE_MODES),
    cacheSize: uint(),
    extraArgs: arrayOf(text),
    queueSize: uint(1, 1024),
  },
  'virtio-9p': {
    kind: text,
    type: text,
    id: deviceId,
    tag: nonEmptyText,
    path: absPath(false),
    securityModel: oneOf(['none', 'passthrough', 'mapped', 'mapped-xattr', 'mapped-file']),
    readOnly: bool,
    msize: uint(4096),
  },
  'vhost-user': {
    kind: text,
    type: oneOf(['blk', 'scsi', 'net', 'fs']),
    id: deviceId,
    socketPath,
    mac: pattern(MAC_RE, 'a MAC address like `02:00:00:00:00:01`'),
    tag: nonEmptyText,
    cacheSize: uint(),
  },
  vfio: {
    kind: text,
    id: deviceId,
    bdf: pattern(BDF_RE, 'a PCI address like `0000:01:00.0`'),
    sysfsDev: pattern(/^\/sys\/[^\0]+$/, 'a path under /sys/'),
    mediated: bool,
  },
  vsock: { kind: text, id: deviceId, contextId: uint(3, MAX_CID), vhostFd: uint(0, 65535) },
  rng: { kind: text, id: deviceId, path: absPath(false) },
};

const DEVICE_KINDS = ['block', 'net', 'fs', 'vhost-user', 'vfio', 'vsock', 'rng'] as const;

/** Validate one device; returns it (unchanged shape, `undefined` fields dropped) or `undefined`. */
function validateDevice(
  issues: Issues,
  path: string,
  value: unknown,
  arch: Arch,
): ColdPlugDevice | undefined {
  if (!isPlainObject(value)) return expected(issues, path, 'a device object with a `kind`', value);
  const kind = value.kind;
  if (typeof kind !== 'string' || !(DEVICE_KINDS as readonly string[]).includes(kind)) {
    return expected(
      issues,
      at(path, 'kind'),
      `one of ${DEVICE_KINDS.map((k) => `\`${k}\``).join(', ')}`,
      kind,
    );
  }
  const before = issues.list.length;
  let fields: string = kind;
  const required = ['id'];
  switch (kind) {
    case 'block':
      required.push('file');
      break;
    case 'fs': {
      const type = value.type;
      if (type !== 'virtio-fs' && type !== 'virtio-9p') {
        return expected(issues, at(path, 'type'), 'one of `virtio-fs`, `virtio-9p`', type);
      }
      fields = type;
      required.push('tag', type === 'virtio-fs' ? 'sharedDir' : 'path');
      break;
    }
    case 'vhost-user':
      required.push('type', 'socketPath');
      break;
    case 'vsock':
      required.push('contextId');
      break;
  }
  const spec = own(DEVICE_FIELDS, fields) ?? {};
  const out = checkObject(issues, path, value, spec, required);
  if (out === undefined) return undefined;

  // Cross-field rules per kind.
  if (kind === 'net') {
    if ((value.ifname === undefined) === (value.fds === undefined)) {
      report(
        issues,
        at(path, 'ifname'),
        `Expected exactly one of \`${at(path, 'ifname')}\` and \`${at(path, 'fds')}\``,
      );
    }
    const fds = out.fds as number[] | undefined;
    const queues = out.queues as number | undefined;
    if (fds !== undefined && queues !== undefined && fds.length !== queues) {
      report(
        issues,
        at(path, 'fds'),
        `Expected \`${at(path, 'fds')}\` to hold one fd per queue (${queues}), got ${fds.length}`,
      );
    }
    const vhostFds = out.vhostFds as number[] | undefined;
    if (vhostFds !== undefined && fds !== undefined && vhostFds.length !== fds.length) {
      report(
        issues,
        at(path, 'vhostFds'),
        `Expected \`${at(path, 'vhostFds')}\` to hold one fd per tap fd (${fds.length}), got ${vhostFds.length}`,
      );
    }
    if (vhostFds !== undefined && out.vhost === false) {
      report(
        issues,
        at(path, 'vhostFds'),
        `Expected no \`${at(path, 'vhostFds')}\` when \`${at(path, 'vhost')}\` is false`,
      );
    }
  }
  if (
    kind === 'fs' &&
    fields === 'virtio-fs' &&
    typeof out.tag === 'string' &&
    Buffer.byteLength(out.tag) > MAX_VIRTIOFS_TAG_BYTES
  ) {
    expected(issues, at(path, 'tag'), `a tag of at most ${MAX_VIRTIOFS_TAG_BYTES} bytes`, out.tag);
  }
  if (kind === 'vhost-user') {
    if (arch === 's390x')
      report(
        issues,
        path,
        `Expected \`${path}\` not to be a vhost-user device on s390x (QEMU's s390x has none), got \`${show(out.type)}\``,
      );
    if (out.mac !== undefined && out.type !== 'net')
      report(issues, at(path, 'mac'), `Expected \`${at(path, 'mac')}\` only on vhost-user \`net\` devices`);
    if (out.type === 'fs' && value.tag === undefined)
      report(
        issues,
        at(path, 'tag'),
        `Expected \`${at(path, 'tag')}\` to be set for vhost-user \`fs\`, got nothing`,
      );
    if ((out.tag !== undefined || out.cacheSize !== undefined) && out.type !== 'fs') {
      report(
        issues,
        at(path, out.tag !== undefined ? 'tag' : 'cacheSize'),
        `Expected \`${at(path, out.tag !== undefined ? 'tag' : 'cacheSize')}\` only on vhost-user \`fs\` devices`,
      );
    }
  }
  if (kind === 'vfio') {
    if ((value.bdf === undefined) === (value.sysfsDev === undefined)) {
      report(
        issues,
        at(path, 'bdf'),
        `Expected exactly one of \`${at(path, 'bdf')}\` and \`${at(path, 'sysfsDev')}\``,
      );
    }
    if (out.mediated === true && value.sysfsDev === undefined) {
      report(
        issues,
        at(path, 'sysfsDev'),
        `Expected \`${at(path, 'sysfsDev')}\` for a mediated device, got nothing`,
      );
    }
  }
  if (kind === 'block' && out.driver === 'virtio-blk-ccw' && arch !== 's390x') {
    expected(
      issues,
      at(path, 'driver'),
      'a driver available on this arch (`virtio-blk-ccw` is s390x only)',
      out.driver,
    );
  }
  return issues.list.length === before ? (out as unknown as ColdPlugDevice) : undefined;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Validate a user config and apply the seeds' defaults. Pure: reads no files, launches nothing
 * (asset existence is checked at launch). Throws ONE `ConfigError` listing every problem.
 *
 * Rules (seeds' `valid()`, `checkTemplateConfig()` and qemu.go refusals, plus Kata's loader):
 * kernel required; exactly one of image/initrd; templates need `memoryPath` (and `devicesStatePath`
 * to boot from one), never both roles, never with virtio-fs or file-backed memory; vhost-user store
 * needs huge pages; `memorySize` ≥ 256 MiB and ≤ host memory; `numVCPUs` ≤ `defaultMaxVCPUs` ≤ the
 * arch's MaxQemuVCPUs; ≤ 5 bridges; machine type known for the arch.
 *
 * @example
 * const cfg = validateConfig({ id: 'web-1', hypervisor: { kernelPath: '/k/vmlinuz', initrdPath: '/k/initrd' } });
 * cfg.hypervisor.memorySize; // 2048
 */
export function validateConfig(input: unknown, opts: ValidateOptions = {}): ValidatedConfig {
  const issues: Issues = { list: [] };
  const hostCpus = Math.max(1, Math.floor(opts.hostCpus ?? availableParallelism()));
  const hostMemoryMiB = Math.floor(opts.hostMemoryMiB ?? totalmem() / (1024 * 1024));

  const root = checkObject(
    issues,
    '',
    input,
    { id: sandboxId, hypervisor: (_i, _p, v) => v, devices: (_i, _p, v) => v, $schema: text },
    ['id'],
    'a sandbox config object `{ id, hypervisor?, devices? }`',
  );
  if (root === undefined) throw new ConfigError(issues.list);

  const h = (
    root.hypervisor === undefined
      ? {}
      : (checkObject(issues, 'hypervisor', root.hypervisor, HYPERVISOR_FIELDS) ?? {})
  ) as Partial<Mutable<HypervisorConfig>>;

  const arch: Arch = h.arch ?? opts.arch ?? hostArch();
  const archDefaults = ARCH_DEFAULTS[arch];

  // --- Assets: kernel required; exactly one of image/initrd (fallbacks from opts.defaults).
  // A field that was given but invalid is already reported: presence rules skip it.
  const raw: Record<string, unknown> = isPlainObject(root.hypervisor) ? root.hypervisor : {};
  const hypervisorInvalid = root.hypervisor !== undefined && !isPlainObject(root.hypervisor);
  const crossRulesStart = issues.list.length;
  const invalid = (key: keyof HypervisorConfig): boolean => raw[key] !== undefined && h[key] === undefined;
  const kernelPath = h.kernelPath || opts.defaults?.kernelPath || '';
  let imagePath = h.imagePath ?? '';
  let initrdPath = h.initrdPath ?? '';
  const assetInvalid = invalid('imagePath') || invalid('initrdPath');
  if (imagePath === '' && initrdPath === '' && !assetInvalid) {
    initrdPath = opts.defaults?.initrdPath ?? '';
    imagePath = initrdPath === '' ? (opts.defaults?.imagePath ?? '') : '';
  }
  if (kernelPath === '' && !invalid('kernelPath')) {
    report(
      issues,
      'hypervisor.kernelPath',
      'Expected `hypervisor.kernelPath` to be an absolute path to the guest kernel, got nothing',
    );
  }
  if (imagePath !== '' && initrdPath !== '') {
    report(
      issues,
      'hypervisor.initrdPath',
      'Expected only one of `hypervisor.imagePath` and `hypervisor.initrdPath`, got both',
    );
  } else if (imagePath === '' && initrdPath === '' && !assetInvalid) {
    report(
      issues,
      'hypervisor.imagePath',
      'Expected one of `hypervisor.imagePath` and `hypervisor.initrdPath` to be set, got neither',
    );
  }

  // --- Numbers (0 means "unset" where the seeds' valid() says so).
  const defaultMaxVCPUs = h.defaultMaxVCPUs || Math.min(hostCpus, archDefaults.maxVCPUs);
  if (defaultMaxVCPUs > archDefaults.maxVCPUs) {
    expected(
      issues,
      'hypervisor.defaultMaxVCPUs',
      `at most ${archDefaults.maxVCPUs} (MaxQemuVCPUs on ${arch})`,
      defaultMaxVCPUs,
    );
  }
  const numVCPUs = h.numVCPUs || DEFAULT_VCPUS;
  if (numVCPUs > defaultMaxVCPUs) {
    expected(
      issues,
      'hypervisor.numVCPUs',
      `at most \`hypervisor.defaultMaxVCPUs\` (${defaultMaxVCPUs})`,
      numVCPUs,
    );
  }
  const memorySize = h.memorySize || DEFAULT_MEMORY_MIB;
  if (h.memorySize !== undefined && h.memorySize !== 0 && h.memorySize < MIN_HYPERVISOR_MEMORY_MIB) {
    expected(
      issues,
      'hypervisor.memorySize',
      `an integer ≥ ${MIN_HYPERVISOR_MEMORY_MIB} (MiB)`,
      h.memorySize,
    );
  } else if (memorySize > hostMemoryMiB) {
    expected(
      issues,
      'hypervisor.memorySize',
      `at most the host memory (${hostMemoryMiB} MiB), as it bounds QEMU's maxmem`,
      memorySize,
    );
  }
  const defaultBridges = h.defaultBridges || DEFAULT_BRIDGES;
  if (defaultBridges > MAX_BRIDGES) {
    expected(
      issues,
      'hypervisor.defaultBridges',
      `at most ${MAX_BRIDGES} (Kata's cold-plug limit)`,
      defaultBridges,
    );
  }
  const memSlots = h.memSlots || DEFAULT_MEM_SLOTS;
  if (memSlots > 255) expected(issues, 'hypervisor.memSlots', 'at most 255 (QEMU memory slots)', memSlots);

  // --- Machine, binary, drivers.
  const machineType = h.hypervisorMachineType || (archDefaults.machineTypes[0] as string);
  if (!archDefaults.machineTypes.includes(machineType)) {
    expected(
      issues,
      'hypervisor.hypervisorMachineType',
      `a machine type for ${arch} (${archDefaults.machineTypes.map((m) => `\`${m}\``).join(', ')})`,
      machineType,
    );
  }
  let blockDeviceDriver: BlockDeviceDriver = h.blockDeviceDriver ?? DEFAULT_BLOCK_DRIVER;
  if (arch === 's390x' && blockDeviceDriver === 'virtio-blk') blockDeviceDriver = 'virtio-blk-ccw'; // Kata's loader rule
  if (arch !== 's390x' && blockDeviceDriver === 'virtio-blk-ccw') {
    expected(
      issues,
      'hypervisor.blockDeviceDriver',
      'a driver available on this arch (`virtio-blk-ccw` is s390x only)',
      blockDeviceDriver,
    );
  }
  const pcieRootPort = h.pcieRootPort ?? 0;
  if (pcieRootPort > 0 && !(machineType === 'q35' || machineType === 'virt')) {
    expected(
      issues,
      'hypervisor.pcieRootPort',
      `0 on machine \`${machineType}\` (PCIe root ports need q35 or virt)`,
      pcieRootPort,
    );
  }
  const sharedFS: SharedFS = h.sharedFS ?? DEFAULT_SHARED_FS;
  const msize9p = h.msize9p || (sharedFS === 'virtio-fs' ? 0 : DEFAULT_MSIZE_9P);

  // --- Templates (checkTemplateConfig) and memory backends (qemu.go createSandbox).
  const toBe = h.bootToBeTemplate ?? false;
  const from = h.bootFromTemplate ?? false;
  const memoryPath = h.memoryPath ?? '';
  const devicesStatePath = h.devicesStatePath ?? '';
  const fileBackedMemRootDir = h.fileBackedMemRootDir ?? '';
  if (toBe && from) {
    report(
      issues,
      'hypervisor.bootFromTemplate',
      "Expected at most one of `hypervisor.bootToBeTemplate` and `hypervisor.bootFromTemplate`, got both (cannot set both 'to be' and 'from' VM template)",
    );
  }
  if (toBe || from) {
    if (memoryPath === '')
      report(
        issues,
        'hypervisor.memoryPath',
        'Expected `hypervisor.memoryPath` to be set for a VM template, got nothing',
      );
    if (from && devicesStatePath === '') {
      report(
        issues,
        'hypervisor.devicesStatePath',
        'Expected `hypervisor.devicesStatePath` to be set to boot from a VM template, got nothing',
      );
    }
    if (sharedFS === 'virtio-fs') {
      report(
        issues,
        'hypervisor.sharedFS',
        'Expected `hypervisor.sharedFS` not to be `virtio-fs` with VM templating (virtio-fs needs shared memory; templates need private memory)',
      );
    }
    if (fileBackedMemRootDir !== '') {
      report(
        issues,
        'hypervisor.fileBackedMemRootDir',
        'Expected no `hypervisor.fileBackedMemRootDir` with VM templating (templates bring their own memory file)',
      );
    }
    if (imagePath !== '' && initrdPath === '') {
      report(
        issues,
        'hypervisor.imagePath',
        'Expected `hypervisor.initrdPath` instead of `hypervisor.imagePath` with VM templating (Kata: templates require an initrd)',
      );
    }
  }
  const enableVhostUserStore = h.enableVhostUserStore ?? false;
  const hugePages = h.hugePages ?? false;
  if (enableVhostUserStore && !hugePages) {
    report(
      issues,
      'hypervisor.enableVhostUserStore',
      'Expected `hypervisor.hugePages` to be true with `hypervisor.enableVhostUserStore` (vhost-user-blk/scsi needs shared huge-page memory)',
    );
  }

  // A hypervisor value that is not an object is reported once, without rule noise.
  if (hypervisorInvalid) issues.list.length = crossRulesStart;

  // --- Devices.
  const devices: ColdPlugDevice[] = [];
  if (root.devices !== undefined) {
    if (!Array.isArray(root.devices)) {
      expected(issues, 'devices', 'an array of devices', root.devices);
    } else {
      const seenIds = new Map<string, number>();
      const seenCids = new Map<number, number>();
      root.devices.forEach((raw: unknown, i) => {
        const path = at('devices', i);
        if (isPlainObject(raw) && typeof raw.id === 'string') {
          const first = seenIds.get(raw.id);
          if (first !== undefined)
            report(
              issues,
              at(path, 'id'),
              `Expected \`${at(path, 'id')}\` to be unique, got \`${show(raw.id)}\` (also devices[${first}].id)`,
            );
          else seenIds.set(raw.id, i);
        }
        if (isPlainObject(raw) && raw.kind === 'vsock' && typeof raw.contextId === 'number') {
          const first = seenCids.get(raw.contextId);
          if (first !== undefined)
            report(
              issues,
              at(path, 'contextId'),
              `Expected \`${at(path, 'contextId')}\` to be unique, got \`${raw.contextId}\` (also devices[${first}].contextId)`,
            );
          else seenCids.set(raw.contextId, i);
        }
        const device = validateDevice(issues, path, raw, arch);
        if (device !== undefined) devices.push(device);
      });
    }
  }

  if (issues.list.length > 0) throw new ConfigError(issues.list);

  const kernelParams: readonly Param[] = h.kernelParams ?? [];
  const hypervisor: HypervisorConfig = {
    arch,
    numVCPUs,
    defaultMaxVCPUs,
    memorySize,
    defaultBridges,
    msize9p,
    memSlots,
    memOffset: h.memOffset ?? 0,
    virtioFSCacheSize: h.virtioFSCacheSize ?? DEFAULT_VIRTIOFS_CACHE_SIZE,
    kernelParams,
    hypervisorParams: h.hypervisorParams ?? [],
    kernelPath,
    imagePath,
    initrdPath,
    firmwarePath: h.firmwarePath ?? '',
    machineAccelerators: h.machineAccelerators ?? '',
    cpuFeatures: h.cpuFeatures ?? '',
    hypervisorPath: h.hypervisorPath ?? archDefaults.hypervisorPath,
    blockDeviceDriver,
    hypervisorMachineType: machineType,
    memoryPath,
    devicesStatePath,
    entropySource: h.entropySource || DEFAULT_ENTROPY_SOURCE,
    sharedFS,
    virtioFSDaemon: h.virtioFSDaemon ?? DEFAULT_VIRTIOFS_DAEMON,
    virtioFSCache: h.virtioFSCache ?? DEFAULT_VIRTIOFS_CACHE,
    virtioFSExtraArgs: h.virtioFSExtraArgs ?? [],
    fileBackedMemRootDir,
    pflash: h.pflash ?? [],
    blockDeviceCacheSet: h.blockDeviceCacheSet ?? false,
    blockDeviceCacheDirect: h.blockDeviceCacheDirect ?? false,
    blockDeviceCacheNoflush: h.blockDeviceCacheNoflush ?? false,
    disableBlockDeviceUse: h.disableBlockDeviceUse ?? false,
    enableIOThreads: h.enableIOThreads ?? false,
    debug: h.debug ?? false,
    memPrealloc: h.memPrealloc ?? false,
    hugePages,
    virtioMem: h.virtioMem ?? false,
    iommu: h.iommu ?? false,
    iommuPlatform: h.iommuPlatform ?? false,
    realtime: h.realtime ?? false,
    mlock: h.mlock ?? false,
    disableNestingChecks: h.disableNestingChecks ?? false,
    useVSock: h.useVSock ?? false,
    disableImageNvdimm: h.disableImageNvdimm ?? false,
    hotplugVFIOOnRootBus: h.hotplugVFIOOnRootBus ?? false,
    pcieRootPort,
    bootToBeTemplate: toBe,
    bootFromTemplate: from,
    disableVhostNet: h.disableVhostNet ?? false,
    enableVhostUserStore,
    vhostUserStorePath: h.vhostUserStorePath ?? '',
    guestMemoryDumpPath: h.guestMemoryDumpPath ?? '',
    guestMemoryDumpPaging: h.guestMemoryDumpPaging ?? false,
    ...(h.seccompSandbox !== undefined ? { seccompSandbox: h.seccompSandbox } : {}),
  };
  return deepFreeze({ id: root.id as string, hypervisor, devices });
}
