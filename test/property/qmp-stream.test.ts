import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QmpClient, QmpFramer, type QmpWireObject } from '../../src/qmp/index.js';

// Property tests of the stream logic: framing under arbitrary chunking, bounded memory under
// arbitrary bytes, and id correlation under arbitrary reply orders (on a real Unix socket).

const jsonObject = fc.dictionary(
  fc.string({ maxLength: 8 }),
  fc.oneof(
    fc.string({ maxLength: 20 }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.integer(), { maxLength: 3 }),
  ),
  { maxKeys: 5 },
);

/** Cuts `buf` at the given positions (sorted, deduplicated) into chunks. */
function chunk(buf: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of at) {
    out.push(buf.subarray(prev, c));
    prev = c;
  }
  out.push(buf.subarray(prev));
  return out;
}

describe('QMP stream properties', () => {
  it('Any sequence of objects, LF or CRLF terminated, survives any chunking unchanged', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(jsonObject, fc.boolean()), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (items, cuts) => {
          const wire = Buffer.from(
            items.map(([o, crlf]) => JSON.stringify(o) + (crlf ? '\r\n' : '\n')).join(''),
          );
          const got: QmpWireObject[] = [];
          const f = new QmpFramer({
            message: (m) => got.push(m),
            protocolError: (e) => {
              throw e;
            },
          });
          for (const c of chunk(wire, cuts)) f.push(c);
          expect(got).toEqual(items.map(([o]) => JSON.parse(JSON.stringify(o))));
          expect(f.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('Arbitrary bytes never throw, never hold more than the cap, and a newline resynchronises', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 48 }),
        (chunks, cap) => {
          let errors = 0;
          const f = new QmpFramer({ message: () => {}, protocolError: () => errors++ }, cap);
          for (const c of chunks) {
            f.push(Buffer.from(c));
            expect(f.bufferedBytes).toBeLessThanOrEqual(cap);
          }
          // A newline always resynchronises: nothing is left held afterwards.
          f.push(Buffer.from('\n'));
          expect(f.bufferedBytes).toBe(0);
          expect(errors).toBeLessThanOrEqual(chunks.reduce((n, c) => n + c.length, 0) + 1);
        },
      ),
      { numRuns: 300 },
    );
  });

  describe('over a real Unix socket', () => {
    let dir: string;
    let server: Server;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'vmactor-qmpprop-'));
      server = createServer();
      await new Promise<void>((r) => server.listen(join(dir, 's'), r));
    });
    afterAll(async () => {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    });

    it('Replies in any order, interleaved with events, reach exactly the command they answer', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc
            .integer({ min: 1, max: 40 })
            .chain((n) =>
              fc.tuple(
                fc.constant(n),
                fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n }),
                fc.array(fc.nat(), { maxLength: 10 }),
              ),
            ),
          async ([n, order, cuts]) => {
            const accepted = new Promise<Socket>((r) => server.once('connection', r));
            const client = createConnection(join(dir, 's'));
            const peer = await accepted;
            let buf = '';
            const ids: number[] = [];
            peer.setEncoding('utf8');
            peer.on('data', (d: string) => {
              buf += d;
              let nl = buf.indexOf('\n');
              while (nl !== -1) {
                const cmd = JSON.parse(buf.slice(0, nl)) as { execute: string; id: number };
                buf = buf.slice(nl + 1);
                nl = buf.indexOf('\n');
                if (cmd.execute === 'qmp_capabilities') {
                  peer.write(`{"return": {}, "id": ${cmd.id}}\n`);
                  continue;
                }
                ids.push(cmd.id);
                if (ids.length < n) continue;
                const wire = order
                  .map(
                    (i) =>
                      `{"event": "E${i}", "timestamp": {"seconds": ${i}, "microseconds": 0}}\n{"return": ${ids[i]}, "id": ${ids[i]}}\n`,
                  )
                  .join('');
                for (const c of chunk(Buffer.from(wire), cuts)) peer.write(c);
              }
            });
            peer.write(
              '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}\n',
            );
            const qmp = await QmpClient.connect(client, { schemaCheck: false }); // a fake peer: no QAPI schema
            const events: string[] = [];
            qmp.events$.subscribe((e) => events.push(e.event));
            const results = await Promise.all(
              Array.from({ length: n }, () => qmp.executeUntyped('qom-get', { path: '/', property: 'x' })),
            );
            expect(results).toEqual(ids);
            expect(events).toEqual(order.map((i) => `E${i}`));
            qmp.close();
            peer.destroy();
          },
        ),
        { numRuns: 40 },
      );
    });
  });
});
