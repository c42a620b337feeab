// Resolves, downloads and unpacks Debian kernel packages with apt-get/apt-cache/dpkg (never installs).
import { chown, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { GuestBuildError } from './errors.js';
import type { GuestFlavour } from './paths.js';

/** The Debian metapackage that tracks the current kernel of a flavour. */
export function kernelMetapackage(flavour: GuestFlavour): string {
  return flavour === 'cloud' ? 'linux-image-cloud-amd64' : 'linux-image-amd64';
}

/** A concrete kernel package chosen from the apt cache. */
export interface KernelPackage {
  /** e.g. `linux-image-6.1.0-56-cloud-amd64`. */
  readonly name: string;
  /** Debian version, e.g. `6.1.192-2`. */
  readonly version: string;
  /** SHA256 of the .deb as the archive lists it (empty when apt-cache does not say). */
  readonly sha256: string;
}

/** Picks the versioned kernel package out of `apt-cache depends <metapackage>` output. */
export function parseMetapackageDepends(output: string, flavour: GuestFlavour): string | undefined {
  const re = flavour === 'cloud' ? /^linux-image-\d[\w.+-]*-cloud-amd64$/ : /^linux-image-\d[\w.+-]*-amd64$/;
  for (const line of output.split('\n')) {
    const m = /^\s*\|?Depends:\s*(\S+)/.exec(line);
    const pkg = m?.[1];
    if (pkg && re.test(pkg) && (flavour === 'cloud' || !pkg.includes('-cloud-'))) return pkg;
  }
  return undefined;
}

/** Reads `Version:` and `SHA256:` from `apt-cache show --no-all-versions` output. */
export function parseAptShow(output: string): { version: string; sha256: string } | undefined {
  const version = /^Version:\s*(\S+)/m.exec(output)?.[1];
  const sha256 = /^SHA256:\s*([0-9a-f]{64})/m.exec(output)?.[1] ?? '';
  return version ? { version, sha256 } : undefined;
}

/** Resolves a flavour's metapackage to the concrete versioned package apt would install. */
export async function resolveKernelPackage(flavour: GuestFlavour): Promise<KernelPackage> {
  const meta = kernelMetapackage(flavour);
  const deps = await execa('apt-cache', ['depends', meta], { reject: false });
  const name = deps.exitCode === 0 ? parseMetapackageDepends(deps.stdout, flavour) : undefined;
  if (!name) {
    throw new GuestBuildError(
      `Cannot resolve ${meta} to a kernel package (apt-cache depends ${meta} exited ${deps.exitCode}): ` +
        `run \`apt-get update\` first. ${deps.stderr.trim()}`,
    );
  }
  const show = await execa('apt-cache', ['show', '--no-all-versions', name], { reject: false });
  const info = show.exitCode === 0 ? parseAptShow(show.stdout) : undefined;
  if (!info) throw new GuestBuildError(`apt-cache show ${name} gave no version: ${show.stderr.trim()}`);
  return { name, ...info };
}

/** Looks up the uid of the `_apt` user (apt's download sandbox) in /etc/passwd. */
async function aptUid(): Promise<number | undefined> {
  try {
    const passwd = await readFile('/etc/passwd', 'utf8');
    const line = passwd.split('\n').find((l) => l.startsWith('_apt:'));
    const uid = line?.split(':')[2];
    return uid === undefined ? undefined : Number(uid);
  } catch {
    return undefined;
  }
}

/**
 * Downloads `name=version` with `apt-get download` into `dir` and returns the .deb path;
 * apt's output lines go to `onLine` as they come.
 * As root, `dir` is handed to `_apt` first so apt's download sandbox can write there
 * (otherwise apt warns and downloads unsandboxed as root).
 */
export async function downloadPackage(
  pkg: KernelPackage,
  dir: string,
  onLine: (line: string) => void = () => undefined,
): Promise<string> {
  if (process.getuid?.() === 0) {
    const uid = await aptUid();
    if (uid !== undefined) await chown(dir, uid, 0).catch(() => undefined);
  }
  const child = execa('apt-get', ['download', '-q', `${pkg.name}=${pkg.version}`], {
    cwd: dir,
    reject: false,
  });
  // apt's own lines ("Get:1 http://... [26.7 MB]", "Fetched ...") are the download progress.
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) onLine(l.trim());
  });
  const r = await child;
  if (r.exitCode !== 0) {
    throw new GuestBuildError(`apt-get download ${pkg.name}=${pkg.version} failed: ${r.stderr.trim()}`);
  }
  const deb = (await readdir(dir)).find((f) => f.startsWith(`${pkg.name}_`) && f.endsWith('.deb'));
  if (!deb) throw new GuestBuildError(`apt-get download left no ${pkg.name}_*.deb in ${dir}`);
  return join(dir, deb);
}

/** Unpacks a .deb's data into `dest` with `dpkg -x` (no maintainer scripts, no install). */
export async function extractPackage(deb: string, dest: string): Promise<void> {
  const r = await execa('dpkg', ['-x', deb, dest], { reject: false });
  if (r.exitCode !== 0) throw new GuestBuildError(`dpkg -x ${deb} failed: ${r.stderr.trim()}`);
}
