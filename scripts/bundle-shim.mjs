// Bundles the serving shim's modules (dist/src/shim/serve-deps.js and everything it imports) into one
// file next to it: containerd starts a shim per container, and one file loads in ~0.13 s where the
// ~200 separate modules take ~0.4 s. main.ts falls back to the separate modules without the bundle.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/src/shim/serve-deps.js'],
  outfile: 'dist/src/shim/serve-deps.bundle.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  // CommonJS dependencies (pino, protobufjs) call require(): give the ESM bundle one.
  banner: {
    js: "import { createRequire as __vmactorCreateRequire } from 'node:module'; const require = __vmactorCreateRequire(import.meta.url);",
  },
});
