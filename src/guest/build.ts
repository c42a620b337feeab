// `vmactor setup`: builds the default guest (kernel + initrd) per flavour, idempotently.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { execa } from 'execa';
import { downloadPackage, extractPackage, type KernelPackage, resolveKernelPackage } from './debian.js';
import { GuestBuildError, GuestPrerequisiteError } from './errors.js';
import { initScript, MODULE_LIST_PATH, UEVENT_HANDLER_PATH, ueventHandlerScript } from './init-script.js';
import { bootableKernel, type KernelFormat, kernelConfigEnabled } from './kernel-image.js';
import { readModinfo } from './modinfo.js';
import { type ModuleEntry, moduleNameFromPath, resolveModules, wantedModules } from './modules.js';
import { type NewcEntry, writeNewc } from './newc.js';
import { type GuestFlavour, guestArtifacts, guestCacheDir } from './paths.js';
import { BUSYBOX_PATH, findExecutable, missingPrerequisites } from './prerequisites.js';

const gzipAsync = promisify(gzip);

/** Bumped whenever the builder's output for the same inputs changes. */
export const GUEST_BUILDER_VERSION = 6;

/** Wanted "modules" that are parts of built-in objects when their config option is `=y`. */
const BUILTIN_BY_CONFIG: Readonly<Record<string, string>> = {
  acpi_memhotplug: 'CONFIG_ACPI_HOTPLUG_MEMORY',
  pvpanic: 'CONFIG_PVPANIC',
};

/** Everything that determines a flavour's output; its hash decides whether to rebuild. */
export interface GuestInputs {
  readonly builderVersion: number;
  readonly flavour: GuestFlavour;
  readonly package: KernelPackage;
  readonly busyboxSha256: string;
  /** SHA256 of /init followed by the uevent handler script. */
  readonly initSha256: string;
  readonly wantedModules: readonly string[];
}

/** `manifest.json` next to a flavour's kernel and initrd. */
export interface GuestManifest {
  readonly builderVersion: number;
  readonly flavour: GuestFlavour;
  readonly inputsSha256: string;
  readonly inputs: GuestInputs;
  readonly kernelRelease: string;
  readonly kernel: {
    readonly file: string;
    readonly sha256: string;
    readonly bytes: number;
    /** `bzImage`, or `pvh-elf` when the xz bzImage was decompressed to its PVH-bootable vmlinux. */
    readonly format: KernelFormat;
  };
  readonly initrd: { readonly file: string; readonly sha256: string; readonly bytes: number };
  readonly modules: {
    /** Loaded by /init in this order. */
    readonly loaded: readonly string[];
    /** Wanted but compiled into this kernel: nothing to load. */
    readonly builtin: readonly string[];
    /** Wanted but absent from this kernel (e.g. 9p in the cloud kernel). */
    readonly absent: readonly string[];
  };
  readonly builtAt: string;
  readonly buildMs: number;
}

/** Options of {@link setupGuest}. */
export interface SetupGuestOptions {
  /** Flavours to build, in order. Default: `['cloud', 'generic']`. */
  readonly flavours?: readonly GuestFlavour[];
  /** Cache directory. Default: {@link guestCacheDir}. */
  readonly cacheDir?: string;
  /** Rebuild even when the manifest matches. */
  readonly force?: boolean;
  /** Receives one human-readable progress line at a time. */
  readonly onProgress?: (line: string) => void;
}

/** What {@link setupGuest} did for one flavour. */
export interface GuestSetupResult {
  readonly flavour: GuestFlavour;
  readonly status: 'built' | 'up-to-date' | 'kept-stale';
  readonly manifest: GuestManifest;
  readonly ms: number;
}

/** Path of a flavour's manifest. */
export function guestManifestPath(flavour: GuestFlavour, cacheDir: string = guestCacheDir()): string {
  return join(cacheDir, 'guest', flavour, 'manifest.json');
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

async function fileSha256(path: string): Promise<string> {
  return sha256(await readFile(path));
}

/** Reads a flavour's manifest, or `undefined` when there is none (or it is unreadable). */
export async function readGuestManifest(
  flavour: GuestFlavour,
  cacheDir: string = guestCacheDir(),
): Promise<GuestManifest | undefined> {
  try {
    return JSON.parse(await readFile(guestManifestPath(flavour, cacheDir), 'utf8')) as GuestManifest;
  } catch {
    return undefined;
  }
}

/** True when the manifest's kernel and initrd exist with the recorded hashes. */
export async function artifactsMatch(manifest: GuestManifest, cacheDir: string): Promise<boolean> {
  const a = guestArtifacts(manifest.flavour, cacheDir);
  try {
    const [k, i] = await Promise.all([fileSha256(a.kernel), fileSha256(a.initrd)]);
    return k === manifest.kernel.sha256 && i === manifest.initrd.sha256;
  } catch {
    return false;
  }
}

async function walk(dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else if (/\.ko(\.(xz|zst|gz))?$/.test(e.name)) out.push(p);
  }
  return out;
}

/** Reads a module file, decompressing .ko.xz / .ko.zst / .ko.gz on the host. */
async function readModuleFile(path: string): Promise<Buffer> {
  const run = async (bin: string, pkg: string) => {
    if (!(await findExecutable(bin)))
      throw new GuestPrerequisiteError([
        { what: bin, hint: `modules are compressed; run \`apt-get install ${pkg}\`` },
      ]);
    const r = await execa(bin, ['-dc', path], { encoding: 'buffer', reject: false });
    if (r.exitCode !== 0) throw new GuestBuildError(`${bin} -dc ${path} failed`);
    return Buffer.from(r.stdout);
  };
  if (path.endsWith('.ko.xz')) return run('xz', 'xz-utils');
  if (path.endsWith('.ko.zst')) return run('zstd', 'zstd');
  if (path.endsWith('.ko.gz')) return run('gzip', 'gzip');
  return readFile(path);
}

/** Computes the inputs of a flavour from the resolved package and the local busybox/init. */
async function computeInputs(flavour: GuestFlavour, pkg: KernelPackage): Promise<GuestInputs> {
  return {
    builderVersion: GUEST_BUILDER_VERSION,
    flavour,
    package: pkg,
    busyboxSha256: await fileSha256(BUSYBOX_PATH),
    initSha256: sha256(initScript() + ueventHandlerScript()),
    wantedModules: wantedModules(flavour),
  };
}

async function buildFlavour(
  flavour: GuestFlavour,
  pkg: KernelPackage,
  inputs: GuestInputs,
  cacheDir: string,
  progress: (line: string) => void,
): Promise<GuestManifest> {
  const started = Date.now();
  const work = await mkdtemp(join(tmpdir(), 'vmactor-guest-'));
  try {
    const dl = join(work, 'download');
    await mkdir(dl, { mode: 0o700 });
    progress(`${flavour}: downloading ${pkg.name} ${pkg.version} (apt-get download)`);
    const deb = await downloadPackage(pkg, dl, (l) => progress(`${flavour}: apt: ${l}`));
    progress(`${flavour}: downloaded ${((await stat(deb)).size / 1e6).toFixed(1)} MB; extracting (dpkg -x)`);
    const root = join(work, 'root');
    await extractPackage(deb, root);

    const releases = await readdir(join(root, 'lib', 'modules')).catch(() => [] as string[]);
    const release = releases[0];
    if (releases.length !== 1 || release === undefined) {
      throw new GuestBuildError(
        `expected one kernel release in ${pkg.name}, found ${releases.join(', ') || 'none'}`,
      );
    }
    const vmlinuz = join(root, 'boot', `vmlinuz-${release}`);
    await stat(vmlinuz).catch((cause: unknown) => {
      throw new GuestBuildError(`${pkg.name} has no boot/vmlinuz-${release}`, { cause });
    });
    const modRoot = join(root, 'lib', 'modules', release);

    // Index modules by name; read .modinfo only for the closure of what we want.
    const paths = new Map<string, string>();
    for (const p of await walk(join(modRoot, 'kernel'))) paths.set(moduleNameFromPath(p), p);
    const builtinText = await readFile(join(modRoot, 'modules.builtin'), 'utf8').catch(() => '');
    const config = await readFile(join(root, 'boot', `config-${release}`), 'utf8').catch(() => '');
    const builtinNames = new Set(builtinText.split('\n').filter(Boolean).map(moduleNameFromPath));
    // Some wanted drivers are linked into a larger built-in object and never appear in modules.builtin.
    for (const [name, option] of Object.entries(BUILTIN_BY_CONFIG)) {
      if (kernelConfigEnabled(config, option)) builtinNames.add(name);
    }
    const index = new Map<string, ModuleEntry>();
    const data = new Map<string, Buffer>();
    const queue = [...inputs.wantedModules];
    while (queue.length > 0) {
      const name = queue.shift() as string;
      const p = paths.get(name);
      if (!p || index.has(name)) continue;
      const buf = await readModuleFile(p);
      const info = readModinfo(buf);
      if (!info) throw new GuestBuildError(`${relative(modRoot, p)} has no readable .modinfo section`);
      index.set(name, { name, path: relative(modRoot, p), depends: info.depends, softPre: info.softPre });
      data.set(name, buf);
      queue.push(...info.depends, ...info.softPre);
    }
    let resolution: ReturnType<typeof resolveModules>;
    try {
      resolution = resolveModules(inputs.wantedModules, index, builtinNames);
    } catch (cause) {
      throw new GuestBuildError(`module resolution failed for ${pkg.name}: ${(cause as Error).message}`, {
        cause,
      });
    }
    progress(
      `${flavour}: kernel ${release}; ${resolution.load.length} modules to load` +
        (resolution.builtin.length ? `, built in: ${resolution.builtin.join(' ')}` : '') +
        (resolution.absent.length ? `, absent: ${resolution.absent.join(' ')}` : ''),
    );

    const entries: NewcEntry[] = [];
    for (const d of [
      'bin',
      'sbin',
      'dev',
      'etc',
      'etc/vmactor',
      'lib',
      'lib/modules',
      'mnt',
      'proc',
      'run',
      'sys',
      'tmp',
      'usr',
      'usr/bin',
      'usr/sbin',
    ]) {
      entries.push({ kind: 'dir', path: d, mode: d === 'tmp' ? 0o1777 : 0o755 });
    }
    entries.push({ kind: 'char', path: 'dev/console', major: 5, minor: 1, mode: 0o600 });
    entries.push({ kind: 'char', path: 'dev/null', major: 1, minor: 3, mode: 0o666 });
    entries.push({ kind: 'file', path: 'bin/busybox', data: await readFile(BUSYBOX_PATH), mode: 0o755 });
    entries.push({ kind: 'symlink', path: 'bin/sh', target: 'busybox' });
    entries.push({ kind: 'file', path: 'init', data: Buffer.from(initScript()), mode: 0o755 });
    entries.push({
      kind: 'file',
      path: UEVENT_HANDLER_PATH,
      data: Buffer.from(ueventHandlerScript()),
      mode: 0o755,
    });
    entries.push({ kind: 'file', path: 'etc/vmactor/release', data: Buffer.from(`${release}\n`) });
    const loadList: string[] = [];
    for (const m of resolution.load) {
      const file = `${m.name}.ko`;
      const buf = data.get(m.name);
      if (!buf) throw new GuestBuildError(`internal: module ${m.name} resolved but not read`);
      entries.push({ kind: 'file', path: `lib/modules/${file}`, data: buf });
      loadList.push(file);
    }
    entries.push({ kind: 'file', path: MODULE_LIST_PATH, data: Buffer.from(`${loadList.join('\n')}\n`) });

    progress(`${flavour}: writing initrd (newc + gzip)`);
    const initrd = await gzipAsync(writeNewc(entries), { level: 6 });
    const out = guestArtifacts(flavour, cacheDir);
    const outDir = join(cacheDir, 'guest', flavour);
    await mkdir(outDir, { recursive: true });
    const tmpKernel = `${out.kernel}.${process.pid}.tmp`;
    const tmpInitrd = `${out.initrd}.${process.pid}.tmp`;
    const kernel = await bootableKernel(await readFile(vmlinuz), config);
    progress(`${flavour}: kernel image ${kernel.format} (${kernel.note})`);
    await writeFile(tmpKernel, kernel.image);
    await writeFile(tmpInitrd, initrd);
    await rename(tmpKernel, out.kernel);
    await rename(tmpInitrd, out.initrd);
    const kernelBuf = kernel.image;
    const manifest: GuestManifest = {
      builderVersion: GUEST_BUILDER_VERSION,
      flavour,
      inputsSha256: sha256(JSON.stringify(inputs)),
      inputs,
      kernelRelease: release,
      kernel: { file: 'vmlinuz', sha256: sha256(kernelBuf), bytes: kernelBuf.length, format: kernel.format },
      initrd: { file: 'initrd.img', sha256: sha256(initrd), bytes: initrd.length },
      modules: {
        loaded: resolution.load.map((m) => m.name),
        builtin: resolution.builtin,
        absent: resolution.absent,
      },
      builtAt: new Date().toISOString(),
      buildMs: Date.now() - started,
    };
    const manifestPath = guestManifestPath(flavour, cacheDir);
    await writeFile(`${manifestPath}.${process.pid}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
    await rename(`${manifestPath}.${process.pid}.tmp`, manifestPath);
    return manifest;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Builds (or confirms up to date) the default guest for each flavour: resolves Debian's kernel
 * metapackage to a versioned package, downloads it with `apt-get download`, unpacks it with
 * `dpkg -x`, and writes `vmlinuz`, `initrd.img` and `manifest.json` under
 * `<cacheDir>/guest/<flavour>/`. Rebuilds only when an input (package version, busybox, init
 * script, module list, builder version) changed or an artifact's hash does not match.
 *
 * @example
 * const results = await setupGuest({ flavours: ['cloud'], onProgress: (l) => console.error(l) });
 * console.log(results[0]?.manifest.kernelRelease);
 */
export async function setupGuest(options: SetupGuestOptions = {}): Promise<GuestSetupResult[]> {
  const flavours = options.flavours ?? ['cloud', 'generic'];
  const cacheDir = options.cacheDir ?? guestCacheDir();
  const progress = options.onProgress ?? (() => undefined);
  const missing = await missingPrerequisites();
  if (missing.length > 0) throw new GuestPrerequisiteError(missing);

  const results: GuestSetupResult[] = [];
  for (const flavour of flavours) {
    const started = Date.now();
    const existing = await readGuestManifest(flavour, cacheDir);
    progress(`${flavour}: resolving kernel package`);
    let pkg: KernelPackage;
    try {
      pkg = await resolveKernelPackage(flavour);
    } catch (cause) {
      if (existing && !options.force && (await artifactsMatch(existing, cacheDir))) {
        progress(
          `${flavour}: cannot resolve the kernel package (${(cause as Error).message}); keeping ${existing.kernelRelease}`,
        );
        results.push({ flavour, status: 'kept-stale', manifest: existing, ms: Date.now() - started });
        continue;
      }
      throw cause;
    }
    const inputs = await computeInputs(flavour, pkg);
    const key = sha256(JSON.stringify(inputs));
    if (!options.force && existing?.inputsSha256 === key && (await artifactsMatch(existing, cacheDir))) {
      progress(`${flavour}: up to date (${pkg.name} ${pkg.version})`);
      results.push({ flavour, status: 'up-to-date', manifest: existing, ms: Date.now() - started });
      continue;
    }
    progress(existing ? `${flavour}: inputs changed, rebuilding` : `${flavour}: building`);
    const manifest = await buildFlavour(flavour, pkg, inputs, cacheDir, progress);
    progress(
      `${flavour}: done in ${((Date.now() - started) / 1000).toFixed(1)} s → ${join(cacheDir, 'guest', flavour)}`,
    );
    results.push({ flavour, status: 'built', manifest, ms: Date.now() - started });
  }
  return results;
}
