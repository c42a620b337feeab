// Bundles the serving shim's modules (dist/src/shim/serve-deps.js and everything it imports) into one
// CommonJS file next to it: containerd starts a shim per container, and one file loads in ~85 ms
// where the ~200 separate modules take ~0.4 s; through the V8 code cache (src/shim/code-cache.ts,
// which needs a classic script, hence CommonJS) ~45 ms. main.ts falls back to the separate modules
// without the bundle.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/src/shim/serve-deps.js'],
  outfile: 'dist/src/shim/serve-deps.bundle.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
  // The modules locate files next to themselves (protos, native addons) from import.meta.url: the
  // bundle's own URL is the same depth in dist, so the relative paths still hold.
  define: { 'import.meta.url': '__vmactorBundleUrl' },
  banner: { js: "const __vmactorBundleUrl = require('node:url').pathToFileURL(__filename).href;" },
});
