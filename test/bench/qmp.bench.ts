// QMP client cost against the physical limit: sequential and pipelined `query-status` round
// trips through QmpClient vs a minimal raw client (plain socket, write, read one line), both on
// monitors of the same real QEMU, interleaved in the same run.
//
// The baseline sends the same bytes as the client, `{"execute":"query-status","id":N}`: QEMU 7.2
// itself answers a command carrying an `id` ~15 µs later than one without (measured here: raw
// write->reply 57 µs without id, 73 µs with; QmpClient 71 µs), and correlation by id is required.
// The id-less raw round trip is reported too (`raw_no_id_median_ms`, `ratio_vs_no_id`).
import type { QmpClient } from '../../src/qmp/index.js';
import { type Benchmark, median, nowMs } from './harness.js';
import { RawLines, withTwoMonitors } from './raw-qmp.js';

const SEQ_BATCH = 200;
const PIPE_TOTAL = 1600;
const PIPE_WINDOW = 16;

/** The simplest possible QMP client: one socket, write a line, read a line. */
class RawQmp extends RawLines {
  async handshake(): Promise<void> {
    const greeting = this.readLine();
    JSON.parse(await greeting);
    const caps = this.readLine();
    this.writeLine('{"execute":"qmp_capabilities"}');
    JSON.parse(await caps);
  }

  private id = 0;

  /** One round trip: write the command (with an id unless `noId`), read its reply line, parse it. */
  async roundTrip(noId = false): Promise<unknown> {
    const reply = this.readLine();
    this.writeLine(noId ? '{"execute":"query-status"}' : `{"execute":"query-status","id":${++this.id}}`);
    return JSON.parse(await reply);
  }

  /** `total` commands with `window` in flight (replies are in order on a raw QMP monitor). */
  pipelined(total: number, window: number): Promise<void> {
    return new Promise((resolve) => {
      let sent = 0;
      let done = 0;
      const send = (): void => {
        sent++;
        void this.readLine().then((line) => {
          JSON.parse(line);
          done++;
          if (done === total) resolve();
          else if (sent < total) send();
        });
        this.writeLine(`{"execute":"query-status","id":${++this.id}}`);
      };
      for (let i = 0; i < window && i < total; i++) send();
    });
  }
}

function withQemu<T>(fn: (qmp: QmpClient, raw: RawQmp) => Promise<T>): Promise<T> {
  return withTwoMonitors([], async (qmp, socket) => {
    const raw = new RawQmp(socket);
    await raw.handshake();
    return fn(qmp, raw);
  });
}

async function clientPipelined(qmp: QmpClient, total: number, window: number): Promise<void> {
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < total) {
      sent++;
      await qmp.execute('query-status');
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
}

export const benchmarks: Benchmark[] = [
  {
    name: 'qmp.query-status.sequential',
    run: (runs) =>
      withQemu(async (qmp, raw) => {
        for (let i = 0; i < 300; i++) {
          await qmp.execute('query-status');
          await raw.roundTrip();
        }
        const samples: number[] = [];
        const baseline: number[] = [];
        // Alternate single round trips (client, raw, raw without id, ...) so every side sees the
        // same machine load and QEMU state; one sample = mean ms per round trip over a batch.
        const noId: number[] = [];
        for (let r = 0; r < runs; r++) {
          let client = 0;
          let base = 0;
          let bare = 0;
          for (let i = 0; i < SEQ_BATCH; i++) {
            const t0 = nowMs();
            await qmp.execute('query-status');
            const t1 = nowMs();
            await raw.roundTrip();
            const t2 = nowMs();
            await raw.roundTrip(true);
            bare += nowMs() - t2;
            base += t2 - t1;
            client += t1 - t0;
          }
          samples.push(client / SEQ_BATCH);
          baseline.push(base / SEQ_BATCH);
          noId.push(bare / SEQ_BATCH);
        }
        const m = median(samples);
        const extra = {
          unit: 'ms per round trip',
          batch: SEQ_BATCH,
          raw_no_id_median_ms: Number(median(noId).toFixed(4)),
          ratio_vs_no_id: Number((m / median(noId)).toFixed(4)),
        };
        return { samples, baseline, extra };
      }),
  },
  {
    name: 'qmp.query-status.pipelined16',
    run: (runs) =>
      withQemu(async (qmp, raw) => {
        await clientPipelined(qmp, 300, PIPE_WINDOW);
        await raw.pipelined(300, PIPE_WINDOW);
        const samples: number[] = [];
        const baseline: number[] = [];
        // ABBA order: alternate which side goes first so neither gains from running second.
        for (let r = 0; r < runs; r++) {
          const clientFirst = r % 2 === 0;
          for (const side of clientFirst ? ['client', 'raw'] : ['raw', 'client']) {
            const t = nowMs();
            if (side === 'client') await clientPipelined(qmp, PIPE_TOTAL, PIPE_WINDOW);
            else await raw.pipelined(PIPE_TOTAL, PIPE_WINDOW);
            (side === 'client' ? samples : baseline).push((nowMs() - t) / PIPE_TOTAL);
          }
        }
        const perSec = (ms: number): number => Math.round(1000 / ms);
        return {
          samples,
          baseline,
          extra: {
            unit: 'ms per command, 16 in flight',
            commands_per_s: perSec(median(samples)),
            baseline_commands_per_s: perSec(median(baseline)),
          },
        };
      }),
  },
];
