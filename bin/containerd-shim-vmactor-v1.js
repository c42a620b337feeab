#!/usr/bin/env node
// containerd's runtime v2 shim for vmactor (`ctr run --runtime <abs path of this file>`); npm run build first.
import { main } from '../dist/src/shim/main.js';

// Exit as soon as the action is done: `start` leaves a detached VM and a serving shim behind whose
// watchers must not keep it alive (containerd reads its output until it exits). stdout and stderr
// are pipes or files here, written synchronously, so nothing is lost.
process.exit(await main(process.argv.slice(2)));
