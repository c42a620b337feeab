// Guest kernel command line, built exactly as Kata does (qemu.go kernelParameters + qemu_<arch>.go tables).
import type { Arch, HypervisorConfig, Param } from './types.js';

const p = (key: string, value = ''): Param => Object.freeze({ key, value });

/**
 * Per-arch kernel params (Kata's `kernelParams` of qemu_amd64.go, qemu_arm64.go, qemu_ppc64le.go,
 * qemu_s390x.go, kata-containers 2.x era).
 */
export const ARCH_KERNEL_PARAMS: Readonly<Record<Arch, readonly Param[]>> = {
  amd64: [
    p('tsc', 'reliable'),
    p('no_timer_check'),
    p('rcupdate.rcu_expedited', '1'),
    p('i8042.direct', '1'),
    p('i8042.dumbkbd', '1'),
    p('i8042.nopnp', '1'),
    p('i8042.noaux', '1'),
    p('noreplace-smp'),
    p('reboot', 'k'),
    p('console', 'hvc0'),
    p('console', 'hvc1'),
    p('cryptomgr.notests'),
    p('net.ifnames', '0'),
    p('pci', 'lastbus=0'),
  ],
  arm64: [p('console', 'hvc0'), p('console', 'hvc1'), p('iommu.passthrough', '0')],
  ppc64le: [
    p('tsc', 'reliable'),
    p('no_timer_check'),
    p('rcupdate.rcu_expedited', '1'),
    p('noreplace-smp'),
    p('reboot', 'k'),
    p('console', 'hvc0'),
    p('console', 'hvc1'),
    p('cryptomgr.notests'),
    p('net.ifnames', '0'),
  ],
  s390x: [p('console', 'ttysclp0')],
};

/** amd64 with a vIOMMU (qemu_amd64.go: `intel_iommu=on iommu=pt` when `config.IOMMU`). */
export const AMD64_IOMMU_KERNEL_PARAMS: readonly Param[] = [p('intel_iommu', 'on'), p('iommu', 'pt')];

/** Kata's `kernelParamsNonDebug`. */
export const KERNEL_PARAMS_NON_DEBUG: readonly Param[] = [p('quiet')];
/** Kata's `kernelParamsSystemdNonDebug` (only with an image: the rootfs runs systemd). */
export const KERNEL_PARAMS_SYSTEMD_NON_DEBUG: readonly Param[] = [p('systemd.show_status', 'false')];
/** Kata's `kernelParamsDebug`. */
export const KERNEL_PARAMS_DEBUG: readonly Param[] = [p('debug')];
/** Kata's `kernelParamsSystemdDebug`. */
export const KERNEL_PARAMS_SYSTEMD_DEBUG: readonly Param[] = [
  p('systemd.show_status', 'true'),
  p('systemd.log_level', 'debug'),
];

/** Kata's `commonNvdimmKernelRootParams` (image on nvdimm with DAX). */
export const NVDIMM_ROOT_PARAMS: readonly Param[] = [
  p('root', '/dev/pmem0p1'),
  p('rootflags', 'dax,data=ordered,errors=remount-ro ro'),
  p('rootfstype', 'ext4'),
];
/** Kata's `commonNvdimmNoDAXKernelRootParams`. */
export const NVDIMM_NO_DAX_ROOT_PARAMS: readonly Param[] = [
  p('root', '/dev/pmem0p1'),
  p('rootflags', 'data=ordered,errors=remount-ro ro'),
  p('rootfstype', 'ext4'),
];
/** Kata's `commonVirtioblkKernelRootParams` (image on virtio-blk: `disableImageNvdimm`, or s390x). */
export const VIRTIOBLK_ROOT_PARAMS: readonly Param[] = [
  p('root', '/dev/vda1'),
  p('rootflags', 'data=ordered,errors=remount-ro ro'),
  p('rootfstype', 'ext4'),
];

/** Kata's `defaultKernelParameters` (qemu.go). */
export const DEFAULT_KERNEL_PARAMS: readonly Param[] = [p('panic', '1')];

/** qemu.go's `vsockKernelOption`: tells the Kata agent whether to listen on vsock. */
export const VSOCK_KERNEL_OPTION = 'agent.use_vsock';

/** Whether the arch plugs the image as nvdimm (s390x has no nvdimm) and whether with DAX (qemu_<arch>.go `dax`). */
const NVDIMM: Readonly<Record<Arch, { readonly nvdimm: boolean; readonly dax: boolean }>> = {
  amd64: { nvdimm: true, dax: true },
  arm64: { nvdimm: true, dax: true },
  ppc64le: { nvdimm: true, dax: true },
  s390x: { nvdimm: false, dax: false },
};

/**
 * Convert params to strings (Kata's hypervisor.go `SerializeParams`): empty key and value → skipped; empty key →
 * the value alone; empty value → the key alone; empty `delim` → key and value as two entries;
 * otherwise `key<delim>value`. Values are kept verbatim (commas, `=`, spaces, quotes).
 *
 * @example
 * serializeParams([{ key: 'a', value: '1' }, { key: 'quiet', value: '' }], '='); // ['a=1', 'quiet']
 */
export function serializeParams(params: readonly Param[], delim: string): string[] {
  const out: string[] = [];
  for (const { key, value } of params) {
    if (key === '' && value === '') continue;
    if (key === '') out.push(value);
    else if (value === '') out.push(key);
    else if (delim === '') out.push(key, value);
    else out.push(`${key}${delim}${value}`);
  }
  return out;
}

/**
 * Convert strings to params (Kata's hypervisor.go `DeserializeParams`): empty strings skipped; split at the FIRST
 * `=` (`a=b=c` → key `a`, value `b=c`); no `=` → empty value.
 *
 * @example
 * deserializeParams(['a=b=c', 'quiet', '']); // [{key:'a',value:'b=c'}, {key:'quiet',value:''}]
 */
export function deserializeParams(parameters: readonly string[]): Param[] {
  const out: Param[] = [];
  for (const param of parameters) {
    if (param === '') continue;
    const i = param.indexOf('=');
    out.push(i < 0 ? { key: param, value: '' } : { key: param.slice(0, i), value: param.slice(i + 1) });
  }
  return out;
}

/** The root= params for an image (qemu_arch_base.go handleImagePath): nvdimm (DAX or not) or virtio-blk. */
export function rootParams(
  config: Pick<HypervisorConfig, 'arch' | 'imagePath' | 'disableImageNvdimm'>,
): readonly Param[] {
  if (config.imagePath === '') return [];
  const { nvdimm, dax } = NVDIMM[config.arch];
  if (!nvdimm || config.disableImageNvdimm) return VIRTIOBLK_ROOT_PARAMS;
  return dax ? NVDIMM_ROOT_PARAMS : NVDIMM_NO_DAX_ROOT_PARAMS;
}

/** The arch's default params for debug or not (qemu_arch_base.go `kernelParameters(debug)`), root params included. */
export function archKernelParameters(
  config: Pick<HypervisorConfig, 'arch' | 'imagePath' | 'disableImageNvdimm' | 'debug' | 'iommu'>,
): Param[] {
  const image = config.imagePath !== '';
  const base = [
    ...ARCH_KERNEL_PARAMS[config.arch],
    ...(config.arch === 'amd64' && config.iommu ? AMD64_IOMMU_KERNEL_PARAMS : []),
    ...rootParams(config),
  ];
  const mode = config.debug
    ? [...KERNEL_PARAMS_DEBUG, ...(image ? KERNEL_PARAMS_SYSTEMD_DEBUG : [])]
    : [...KERNEL_PARAMS_NON_DEBUG, ...(image ? KERNEL_PARAMS_SYSTEMD_NON_DEBUG : [])];
  return [...base, ...mode];
}

/** The guest kernel command line: params and the joined `-append` string. */
export interface KernelCommandLine {
  readonly params: readonly Param[];
  readonly cmdline: string;
}

/**
 * Build the guest kernel command line as qemu.go `kernelParameters()` does: arch params (+ root
 * params for an image), debug or non-debug params, `panic=1`, `nr_cpus=<defaultMaxVCPUs>`,
 * `agent.use_vsock=<useVSock>`, then the user's `kernelParams` LAST so they win (the kernel honours
 * the last value). Joined with spaces; no quoting or escaping (the QEMU layer escapes `-append`).
 *
 * @example
 * buildKernelParams(validateConfig(cfg).hypervisor).cmdline;
 * // 'tsc=reliable no_timer_check ... quiet panic=1 nr_cpus=4 agent.use_vsock=false'
 */
export function buildKernelParams(
  config: Pick<
    HypervisorConfig,
    | 'arch'
    | 'imagePath'
    | 'disableImageNvdimm'
    | 'debug'
    | 'iommu'
    | 'defaultMaxVCPUs'
    | 'useVSock'
    | 'kernelParams'
  >,
): KernelCommandLine {
  const params: Param[] = [
    ...archKernelParameters(config),
    ...DEFAULT_KERNEL_PARAMS,
    p('nr_cpus', String(config.defaultMaxVCPUs)),
    p(VSOCK_KERNEL_OPTION, String(config.useVSock)),
    ...config.kernelParams,
  ];
  return { params, cmdline: serializeParams(params, '=').join(' ') };
}
