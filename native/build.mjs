// Builds the fd-passing addon (native/build/Release/vmactor_fd.node) with node-gyp.
// Run by the root `install` script, so `npm ci` / `npm install` build it on a clean machine.
// node-gyp: the one npm bundles (npm exports its path as npm_config_node_gyp to lifecycle
// scripts); headers: the running Node's own include/node when present (no download), else
// node-gyp's usual header download.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  // Outside npm: npm's bundled copy next to the npm that ships with this Node.
  const candidates = [
    join(
      dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js',
    ),
  ];
  try {
    candidates.unshift(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {}
  return candidates.find((p) => existsSync(p));
}

const gyp = nodeGyp();
if (!gyp) {
  console.error('vmactor: node-gyp not found (it ships with npm); cannot build native/vmactor_fd.node');
  process.exit(1);
}
const nodeDir = join(dirname(process.execPath), '..');
const args = [gyp, 'rebuild', '--directory', here];
if (
  existsSync(join(nodeDir, 'include', 'node', 'node_api.h')) &&
  existsSync(join(nodeDir, 'include', 'node', 'common.gypi'))
) {
  args.push(`--nodedir=${nodeDir}`);
}
const r = spawnSync(process.execPath, args, { stdio: 'inherit', shell: false });
process.exit(r.status ?? 1);
