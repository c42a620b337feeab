#!/usr/bin/env node
// The `vmactor` command: runs the compiled CLI (npm run build first).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
