// The inspector's cost to the sandboxes it watches: many sandboxes pausing and resuming with the
// page open in real Chromium vs without it, in the same run (ABBA rounds). Checks that the page saw
// every change and reports its long tasks (its own event loop's stalls, from PerformanceObserver).
import { rmSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { type Inspector, inspect } from '../../src/inspect/index.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import { launchChromium } from '../helpers/chromium.js';
import { QEMU } from '../helpers/env.js';
import { bareSpec, openTracked, quietLogger, stopAll } from '../integration/sandbox-fixtures.js';
import type { Benchmark, BenchRow } from './harness.js';
import { median, nowMs, tmpfsRunBase } from './harness.js';

/** Deadline of every wait on the page. */
const PAGE_WAIT = { timeout: 60_000 } as const;

interface Times {
  pause: number[];
  resume: number[];
}

/** One round: every sandbox, one after the other, pauses then resumes; each call timed until its promise resolves. */
async function round(sandboxes: readonly Sandbox[], into: Times): Promise<void> {
  for (const sb of sandboxes) {
    let t = nowMs();
    await sb.pause();
    into.pause.push(nowMs() - t);
    t = nowMs();
    await sb.resume();
    into.resume.push(nowMs() - t);
  }
}

// Page-side code is passed as source text: tsx's transform would wrap functions in a `__name`
// helper that does not exist in the page.

/** Installs the page's long-task recorder (event-driven: Chromium reports tasks over 50 ms). */
async function watchLongTasks(page: Page): Promise<void> {
  await page.evaluate(`(() => {
    window.longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.longTasks.push(e.duration);
    }).observe({ type: 'longtask', buffered: false });
  })()`);
}

/** Waits until the page holds, for every sandbox, `cycles` pauses and resumes and a `running` snapshot. */
async function pageCaughtUp(page: Page, ids: readonly string[], cycles: number): Promise<void> {
  await page.waitForFunction(
    `(() => {
      const insp = window.vmactorInspector;
      if (!insp) return false;
      return ${JSON.stringify(ids)}.every((id) => {
        const a = insp.actors.get(id);
        if (!a || !a.snapshot || a.snapshot.phase !== 'running') return false;
        let paused = 0;
        let resumed = 0;
        for (const m of a.timeline) {
          if (m.summary === 'running → paused (requested)') paused += 1;
          if (m.summary === 'paused → running (requested)') resumed += 1;
        }
        return paused === ${cycles} && resumed === ${cycles};
      });
    })()`,
    undefined,
    PAGE_WAIT,
  );
}

/** One "with the page" block: a fresh inspector, the page on it, one round, then the page must have seen it all. */
async function withPage(
  page: Page,
  sandboxes: readonly Sandbox[],
  into: Times,
): Promise<{ longTasks: number[]; messages: number }> {
  const inspector: Inspector = await inspect(sandboxes, { port: 0 });
  try {
    await page.goto(inspector.url);
    await page.locator('#conn[data-state="live"]').waitFor(PAGE_WAIT);
    await page
      .locator('#actors li')
      .nth(sandboxes.length - 1)
      .waitFor(PAGE_WAIT);
    await page.locator('#chart[data-loaded="sandbox"]').waitFor(PAGE_WAIT);
    await watchLongTasks(page);
    // The page's own load (its first render of the chart) is over before the round: the renderer is idle.
    await page.evaluate(
      'new Promise((resolve) => requestIdleCallback(() => resolve(true), { timeout: 5000 }))',
    );
    await round(sandboxes, into);
    await pageCaughtUp(
      page,
      sandboxes.map((s) => s.id),
      1,
    );
    return (await page.evaluate(
      '({ longTasks: window.longTasks, messages: window.vmactorInspector.stats.received })',
    )) as { longTasks: number[]; messages: number };
  } finally {
    await inspector.close();
  }
}

const pauseResumeWithPage: Benchmark = {
  name: 'inspect: pause/resume of many sandboxes with the inspector page open vs without',
  deadlineMs: 600_000,
  async run(_runs, { smoke }) {
    const count = smoke ? 4 : 20;
    const rounds = smoke ? 2 : 10;
    const base = tmpfsRunBase();
    const browser = await launchChromium();
    const without: Times = { pause: [], resume: [] };
    const withIt: Times = { pause: [], resume: [] };
    const longTasks: number[] = [];
    let messages = 0;
    try {
      // bypassCSP: the bench's own probes are evaluated as text (the page's CSP forbids eval).
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, bypassCSP: true });
      const sandboxes = Array.from({ length: count }, (_, i) =>
        openTracked(bareSpec(QEMU, { id: `insp-bench-${process.pid}-${i}` }), {
          runDir: base,
          logger: quietLogger,
        }),
      );
      await Promise.all(sandboxes.map((sb) => sb.start()));
      // Warm-up of both paths, not counted.
      await round(sandboxes, { pause: [], resume: [] });
      await withPage(page, sandboxes, { pause: [], resume: [] });
      for (let i = 0; i < rounds; i++) {
        // ABBA: without/with, then with/without, against drift.
        const first = i % 2 === 0;
        if (first) await round(sandboxes, without);
        const r = await withPage(page, sandboxes, withIt);
        longTasks.push(...r.longTasks);
        messages += r.messages;
        if (!first) await round(sandboxes, without);
      }
    } finally {
      await browser.close();
      await stopAll();
      rmSync(base, { recursive: true, force: true });
    }
    const extra = (which: keyof Times) => ({
      sandboxes: count,
      cycles_per_sandbox: rounds,
      goal_ratio_max: 1.05,
      every_change_seen: true,
      page_messages: messages,
      page_long_tasks: longTasks.length,
      page_longest_task_ms: longTasks.length ? Math.max(...longTasks) : 0,
      without_median_ms: Number(median(without[which]).toFixed(4)),
    });
    const rows: BenchRow[] = [
      {
        name: 'inspect: sb.pause() with the page open vs without (baseline)',
        samples: withIt.pause,
        baseline: without.pause,
        extra: extra('pause'),
      },
      {
        name: 'inspect: sb.resume() with the page open vs without (baseline)',
        samples: withIt.resume,
        baseline: without.resume,
        extra: extra('resume'),
      },
    ];
    return { samples: withIt.pause, baseline: without.pause, rows };
  },
};

/** Benchmarks of the inspector (`npm run bench -- inspect`). */
export const benchmarks: Benchmark[] = QEMU ? [pauseResumeWithPage] : [];
