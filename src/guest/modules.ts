// Which kernel modules the default guest loads, and their dependency-ordered load list.

import { normaliseModuleName } from './modinfo.js';
import type { GuestFlavour } from './paths.js';

/** Modules every flavour wants (missing or built-in ones are noted, not fatal). */
export const COMMON_GUEST_MODULES: readonly string[] = [
  'virtio',
  'virtio_ring',
  'virtio_pci_legacy_dev',
  'virtio_pci_modern_dev',
  'virtio_pci',
  'virtio_blk',
  'scsi_mod',
  'sd_mod',
  'virtio_scsi',
  'virtio_net',
  'virtio_console',
  'virtio_balloon',
  'virtio_mem',
  'virtio_rng',
  'fuse',
  'virtiofs',
  'libnvdimm',
  'nd_pmem',
  'nd_btt',
  'dax',
  'pvpanic',
  'pvpanic_pci',
  'pvpanic_mmio',
  'acpi_memhotplug',
];

/** Extra modules for the 9p-capable `generic` flavour. */
export const NINEP_GUEST_MODULES: readonly string[] = ['netfs', 'fscache', '9pnet', '9pnet_virtio', '9p'];

/** The modules a flavour asks for, in preference order. */
export function wantedModules(flavour: GuestFlavour): readonly string[] {
  // netfs/fscache are 9p's dependencies; the cloud kernel has no 9p, so ask only the generic one.
  return flavour === 'generic' ? [...COMMON_GUEST_MODULES, ...NINEP_GUEST_MODULES] : COMMON_GUEST_MODULES;
}

/** One loadable module found in the extracted kernel package. */
export interface ModuleEntry {
  /** Normalised module name. */
  readonly name: string;
  /** Path relative to `lib/modules/<release>/`, e.g. `kernel/fs/fuse/fuse.ko`. */
  readonly path: string;
  readonly depends: readonly string[];
  readonly softPre: readonly string[];
}

/** What the resolver decided for a wanted module list. */
export interface ModuleResolution {
  /** Modules to `insmod`, dependencies first. */
  readonly load: readonly ModuleEntry[];
  /** Wanted (or depended-on) modules compiled into the kernel: nothing to load. */
  readonly builtin: readonly string[];
  /** Wanted modules the kernel has neither as module nor built in (e.g. 9p in the cloud kernel). */
  readonly absent: readonly string[];
}

/** Derives the module name from a path in `modules.builtin` or the modules tree (`.../pvpanic-pci.ko.xz` → `pvpanic_pci`). */
export function moduleNameFromPath(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1).replace(/\.ko(\.(xz|zst|gz))?$/, '');
  return normaliseModuleName(base);
}

/**
 * Resolves wanted modules to a load order (depth-first, dependencies before dependants),
 * noting built-in and absent ones. A missing hard dependency of a present module is an error
 * (the module could not load); a missing soft pre-dependency is ignored.
 *
 * @example
 * resolveModules(['virtiofs'], index, new Set()).load.map((m) => m.name) // ['fuse', 'virtio_ring', 'virtio', 'virtiofs'] for a matching index
 */
export function resolveModules(
  wanted: readonly string[],
  index: ReadonlyMap<string, ModuleEntry>,
  builtinNames: ReadonlySet<string>,
): ModuleResolution {
  const load: ModuleEntry[] = [];
  const builtin = new Set<string>();
  const absent: string[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();

  const visit = (name: string, chain: readonly string[], hard: boolean): boolean => {
    if (done.has(name)) return true;
    const entry = index.get(name);
    if (!entry) {
      if (builtinNames.has(name)) {
        builtin.add(name);
        return true;
      }
      if (hard && chain.length > 0) {
        throw new Error(
          `module ${chain.join(' -> ')} depends on ${name}, which the kernel package does not contain`,
        );
      }
      return false;
    }
    if (visiting.has(name)) throw new Error(`module dependency cycle: ${[...chain, name].join(' -> ')}`);
    visiting.add(name);
    for (const d of entry.softPre) visit(d, [...chain, name], false);
    for (const d of entry.depends) visit(d, [...chain, name], true);
    visiting.delete(name);
    done.add(name);
    load.push(entry);
    return true;
  };

  for (const raw of wanted) {
    const name = normaliseModuleName(raw);
    if (!visit(name, [], true)) absent.push(name);
  }
  return { load, builtin: [...builtin], absent };
}
