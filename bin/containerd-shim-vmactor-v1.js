#!/usr/bin/env node
// containerd's runtime v2 shim for vmactor (`ctr run --runtime <abs path of this file>`); npm run build first.
import { main } from '../dist/src/shim/main.js';

process.exitCode = await main(process.argv.slice(2));
