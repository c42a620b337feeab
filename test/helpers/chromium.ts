// Debian's Chromium driven by playwright-core, with the flags this machine needs (headless, no sandbox as root, no GPU, no network chatter).
import { type Browser, chromium } from 'playwright-core';
import { hostBinary } from './env.js';

/** Debian's `chromium` package (installed by scripts/install-system-deps.sh). */
export const CHROMIUM = hostBinary('/usr/bin/chromium');

/** The flags every test launch uses. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
] as const;

/** Launches Chromium (30 s deadline). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS], timeout: 30_000 });
}
