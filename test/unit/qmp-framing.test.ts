import { describe, expect, it } from 'vitest';
import { QmpFramer, QmpProtocolError, type QmpWireObject } from '../../src/qmp/index.js';

function framer(max?: number): { f: QmpFramer; msgs: QmpWireObject[]; errs: QmpProtocolError[] } {
  const msgs: QmpWireObject[] = [];
  const errs: QmpProtocolError[] = [];
  const f = new QmpFramer({ message: (m) => msgs.push(m), protocolError: (e) => errs.push(e) }, max);
  return { f, msgs, errs };
}

describe('QmpFramer', () => {
  it('Splits LF and CRLF terminated lines into objects, in order', () => {
    const { f, msgs, errs } = framer();
    f.push(Buffer.from('{"a":1}\n{"b":2}\r\n{"c":3}\n'));
    expect(msgs).toEqual([{ a: 1 }, { b: 2 }, { c: 3 }]);
    expect(errs).toEqual([]);
  });

  it('Ignores blank lines', () => {
    const { f, msgs, errs } = framer();
    f.push(Buffer.from('\n\r\n   \n{"a":1}\n'));
    expect(msgs).toEqual([{ a: 1 }]);
    expect(errs).toEqual([]);
  });

  it('Holds an unfinished line until its newline arrives', () => {
    const { f, msgs } = framer();
    f.push(Buffer.from('{"a":'));
    expect(msgs).toEqual([]);
    expect(f.bufferedBytes).toBe(5);
    f.push(Buffer.from('1}'));
    f.push(Buffer.from('\r'));
    f.push(Buffer.from('\n'));
    expect(msgs).toEqual([{ a: 1 }]);
    expect(f.bufferedBytes).toBe(0);
  });

  it('Reassembles a multi-byte UTF-8 character split between chunks', () => {
    const { f, msgs } = framer();
    const bytes = Buffer.from('{"s":"✓é"}\n');
    f.push(bytes.subarray(0, 7));
    f.push(bytes.subarray(7));
    expect(msgs).toEqual([{ s: '✓é' }]);
  });

  it('Reports a line that is not JSON and carries on with the next line', () => {
    const { f, msgs, errs } = framer();
    f.push(Buffer.from('garbage here\n{"ok":true}\n'));
    expect(errs).toHaveLength(1);
    expect(errs[0]).toBeInstanceOf(QmpProtocolError);
    expect(errs[0]).toMatchObject({ code: 'ERR_QMP_PROTOCOL', excerpt: 'garbage here' });
    expect(msgs).toEqual([{ ok: true }]);
  });

  it('Reports JSON arrays, strings, numbers and null as not objects', () => {
    const { f, msgs, errs } = framer();
    f.push(Buffer.from('[1]\n"s"\n3\nnull\n'));
    expect(msgs).toEqual([]);
    expect(errs.map((e) => e.message)).toEqual(Array(4).fill('QMP peer sent JSON that is not an object'));
  });

  it('Accepts a line of exactly the cap and refuses one byte more', () => {
    const { f, msgs, errs } = framer(12);
    f.push(Buffer.from('{"a":"1234"}\n')); // 12 bytes
    f.push(Buffer.from('{"a":"12345"}\n')); // 13 bytes
    expect(msgs).toEqual([{ a: '1234' }]);
    expect(errs.map((e) => e.message)).toEqual(['QMP line exceeds the 12-byte cap; the line was dropped']);
  });

  it('Stops buffering an over-cap line at the cap, reports it once, and resynchronises on the next line', () => {
    const { f, msgs, errs } = framer(16);
    f.push(Buffer.from('{"a":"'));
    for (let i = 0; i < 100; i++) {
      f.push(Buffer.from('xxxxxxxx'));
      expect(f.bufferedBytes).toBeLessThanOrEqual(16);
    }
    f.push(Buffer.from('"}\n{"b":1}\n'));
    expect(errs).toHaveLength(1);
    expect(msgs).toEqual([{ b: 1 }]);
    expect(f.bufferedBytes).toBe(0);
  });

  it('Reports an over-cap line completed within one chunk', () => {
    const { f, msgs, errs } = framer(8);
    f.push(Buffer.from('{"aaaaaaaaaa":1}\n{"b":1}\n'));
    expect(errs).toHaveLength(1);
    expect(msgs).toEqual([{ b: 1 }]);
  });

  it('Forgets an unfinished line on reset', () => {
    const { f, msgs } = framer();
    f.push(Buffer.from('{"a":'));
    f.reset();
    f.push(Buffer.from('{"b":2}\n'));
    expect(msgs).toEqual([{ b: 2 }]);
  });
});
