// The schema validator itself, on a small hand-written schema in QEMU's introspection format
// (`query-qmp-schema`, type names masked as numbers as QEMU does). No QEMU here: the live check
// against real QEMU is test/integration/qmp-schema.test.ts and the whole suite.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { QmpSchemaInfo } from '../../src/qmp/commands.js';
import { QmpCommandError, QmpDisconnectedError, QmpSchema, QmpSchemaError } from '../../src/qmp/index.js';

const entries = [
  { name: 'str', 'meta-type': 'builtin', 'json-type': 'string' },
  { name: 'int', 'meta-type': 'builtin', 'json-type': 'int' },
  { name: 'uint8', 'meta-type': 'builtin', 'json-type': 'int' },
  { name: 'bool', 'meta-type': 'builtin', 'json-type': 'boolean' },
  { name: 'null', 'meta-type': 'builtin', 'json-type': 'null' },
  { name: 'any', 'meta-type': 'builtin', 'json-type': 'value' },
  { name: '0', 'meta-type': 'object', members: [] },
  { name: 'query-status', 'meta-type': 'command', 'arg-type': '0', 'ret-type': '0' },
  { name: 'old-cmd', 'meta-type': 'command', 'arg-type': '0', 'ret-type': '0', features: ['deprecated'] },
  // set-level: {level: uint8, *mode: Mode, *tags: [str], *note: str (deprecated)}
  {
    name: '10',
    'meta-type': 'object',
    members: [
      { name: 'level', type: 'uint8' },
      { name: 'mode', type: '11', default: null },
      { name: 'tags', type: '[str]', default: null },
      { name: 'note', type: 'str', default: null, features: ['deprecated'] },
    ],
  },
  {
    name: '11',
    'meta-type': 'enum',
    values: ['fast', 'safe', 'legacy'],
    members: [{ name: 'fast' }, { name: 'safe' }, { name: 'legacy', features: ['deprecated'] }],
  },
  { name: '[str]', 'meta-type': 'array', 'element-type': 'str' },
  { name: 'set-level', 'meta-type': 'command', 'arg-type': '10', 'ret-type': '0' },
  // add-node: a flat union on `driver` (file | raw); raw's `file` is an alternate Ref = Node | str (recursive).
  {
    name: '20',
    'meta-type': 'object',
    members: [
      { name: 'driver', type: '21' },
      { name: 'node-name', type: 'str', default: null },
    ],
    tag: 'driver',
    variants: [
      { case: 'file', type: '22' },
      { case: 'raw', type: '23' },
    ],
  },
  { name: '21', 'meta-type': 'enum', values: ['file', 'raw', 'null-co'] },
  { name: '22', 'meta-type': 'object', members: [{ name: 'filename', type: 'str' }] },
  { name: '23', 'meta-type': 'object', members: [{ name: 'file', type: '24' }] },
  {
    name: '24',
    'meta-type': 'alternate',
    members: [{ type: '20' }, { type: 'str' }, { type: 'null' }],
  },
  { name: 'add-node', 'meta-type': 'command', 'arg-type': '20', 'ret-type': '0' },
  // device_add: QAPI lists driver/bus/id only.
  {
    name: '30',
    'meta-type': 'object',
    members: [
      { name: 'driver', type: 'str' },
      { name: 'bus', type: 'str', default: null },
      { name: 'id', type: 'str', default: null },
    ],
  },
  { name: 'device_add', 'meta-type': 'command', 'arg-type': '30', 'ret-type': '0' },
] as unknown as QmpSchemaInfo[];

const schema = (): QmpSchema => new QmpSchema(entries);

describe('QmpSchema on a hand-written QAPI schema', () => {
  it('Valid invocations have no problems (a command without arguments, a nested union through its alternate)', () => {
    const s = schema();
    expect(s.check('query-status', undefined)).toEqual([]);
    expect(s.check('set-level', { level: 3, mode: 'fast', tags: ['a', 'b'] })).toEqual([]);
    expect(
      s.check('add-node', { driver: 'raw', 'node-name': 'd0', file: { driver: 'file', filename: '/x' } }),
    ).toEqual([]);
    expect(s.check('add-node', { driver: 'raw', file: 'other-node' })).toEqual([]);
    expect(s.check('add-node', { driver: 'raw', file: null })).toEqual([]);
    // A tag value with no branch has only the base members.
    expect(s.check('add-node', { driver: 'null-co' })).toEqual([]);
    expect(s.validate('query-status', undefined)).toBeUndefined();
  });

  it('Unknown commands, unknown members and missing required members are reported with their paths', () => {
    const s = schema();
    expect(s.check('no-such', undefined)).toEqual(['execute: unknown command `no-such`']);
    expect(s.check('query-status', { verbose: true })).toEqual(['arguments.verbose: unknown member']);
    expect(s.check('set-level', {})).toEqual(['arguments.level: required member missing']);
    // A member of another branch is unknown in this one.
    expect(s.check('add-node', { driver: 'file', filename: 'f', file: 'x' })).toEqual([
      'arguments.file: unknown member',
    ]);
    expect(s.check('add-node', { driver: 'raw' })).toEqual(['arguments.file: required member missing']);
  });

  it('Wrong member types are reported: a string for an integer, a non-integer, an out-of-range uint8', () => {
    const s = schema();
    expect(s.check('set-level', { level: '3' })).toEqual(['arguments.level: expected uint8, got string']);
    expect(s.check('set-level', { level: 1.5 })).toEqual([
      'arguments.level: expected uint8, got non-integer number',
    ]);
    expect(s.check('set-level', { level: 256 })).toEqual([
      'arguments.level: expected uint8 (0..255), got 256',
    ]);
    expect(s.check('set-level', { level: 1, tags: ['a', 2] })).toEqual([
      'arguments.tags[1]: expected str, got number',
    ]);
    expect(s.check('set-level', { level: 1, tags: 'a' })).toEqual([
      'arguments.tags: expected an array, got string',
    ]);
  });

  it('Enum values, discriminators and alternates are checked, down into nested unions', () => {
    const s = schema();
    expect(s.check('set-level', { level: 1, mode: 'quick' })).toEqual([
      'arguments.mode: `quick` is not one of fast|safe|legacy',
    ]);
    expect(s.check('add-node', { driver: 'qcow9' })).toEqual([
      'arguments.driver: `qcow9` is not one of file|raw|null-co',
    ]);
    expect(s.check('add-node', { driver: 'raw', file: 7 })).toEqual([
      'arguments.file: expected object or string or null, got number',
    ]);
    expect(s.check('add-node', { driver: 'raw', file: { driver: 'file', filename: 5 } })).toEqual([
      'arguments.file.filename: expected str, got number',
    ]);
    expect(
      s.check('add-node', { driver: 'raw', file: { driver: 'raw', file: { driver: 'file', name: 'x' } } }),
    ).toEqual([
      'arguments.file.file.filename: required member missing',
      'arguments.file.file.name: unknown member',
    ]);
  });

  it('Deprecated commands, members and enum values are reported', () => {
    const s = schema();
    expect(s.check('old-cmd', undefined)).toEqual(['execute: command `old-cmd` is deprecated']);
    expect(s.check('set-level', { level: 1, note: 'x' })).toEqual(['arguments.note: member is deprecated']);
    expect(s.check('set-level', { level: 1, mode: 'legacy' })).toEqual([
      'arguments.mode: value `legacy` is deprecated',
    ]);
  });

  it('QmpSchemaError names the command and the path of every bad member', () => {
    const err = schema().validate('set-level', { level: -1, mode: 3 });
    expect(err).toBeInstanceOf(QmpSchemaError);
    expect(err).toMatchObject({ name: 'QmpSchemaError', code: 'ERR_QMP_SCHEMA', command: 'set-level' });
    expect(err?.paths).toEqual(['arguments.level', 'arguments.mode']);
    expect(err?.message).toBe(
      "QMP command `set-level` does not match QEMU's schema: arguments.level: expected uint8 (0..255), got -1; arguments.mode: expected one of fast|safe|legacy, got number",
    );
    expect(() => schema().assertValid('set-level', { level: 1 })).not.toThrow();
    expect(() => schema().assertValid('set-level', {})).toThrow(QmpSchemaError);
  });

  it("device_add's qdev properties are checked once the driver's properties are loaded", async () => {
    const s = schema();
    const asked: string[] = [];
    const list = async (driver: string) => {
      asked.push(driver);
      if (driver === 'no-such-dev')
        throw new QmpCommandError('device-list-properties', 'GenericError', 'nope');
      return [
        { name: 'drive', type: 'str' },
        { name: 'share-rw', type: 'bool' },
        { name: 'num-queues', type: 'uint16' },
        { name: 'addr', type: 'int32' },
        { name: 'disable-legacy', type: 'OnOffAuto' },
      ];
    };
    const dev = { driver: 'blk', id: 'd', drive: 'x', 'share-rw': 'on', 'num-queues': 1.5, addr: '02.0' };
    expect(s.unloadedDriver('device_add', dev)).toBe('blk');
    // Before the properties are known, only QAPI's driver/bus/id are checked.
    expect(s.check('device_add', dev)).toEqual([]);
    await Promise.all([s.loadDriver('blk', list), s.loadDriver('blk', list)]);
    expect(asked).toEqual(['blk']);
    expect(s.unloadedDriver('device_add', dev)).toBeUndefined();
    expect(s.check('device_add', { ...dev, bogus: 1, 'disable-legacy': true, addr: '0x1g' })).toEqual([
      'arguments.share-rw: expected bool, got string',
      'arguments.num-queues: expected an integer, got non-integer number',
      'arguments.addr: `0x1g` is not slot[.fn]',
      'arguments.bogus: `blk` has no property `bogus`',
      'arguments.disable-legacy: expected str, got boolean',
    ]);
    expect(s.check('device_add', { driver: 'blk', drive: 'x', 'share-rw': true, addr: 3 })).toEqual([]);
    expect(s.check('device_add', { driver: 'blk', bus: 7 })).toEqual([
      'arguments.bus: expected str, got number',
    ]);
    // A driver QEMU refuses to list is left for QEMU to refuse; a lost connection is retried later.
    await s.loadDriver('no-such-dev', list);
    expect(s.check('device_add', { driver: 'no-such-dev', anything: 1 })).toEqual([]);
    await s.loadDriver('flaky', () => Promise.reject(new QmpDisconnectedError('eof')));
    expect(s.unloadedDriver('device_add', { driver: 'flaky' })).toBe('flaky');
  });

  it('For arbitrary JSON, a uint8 member, an enum member and an alternate accept exactly their values', () => {
    const s = schema();
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const level = s.check('set-level', { level: v });
        expect(level.length === 0).toBe(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255);
        const mode = s.check('set-level', { level: 0, mode: v });
        expect(mode.length === 0).toBe(v === 'fast' || v === 'safe');
        const file = s.check('add-node', { driver: 'raw', file: v });
        if (typeof v === 'string' || v === null) expect(file).toEqual([]);
        else if (typeof v !== 'object' || Array.isArray(v)) expect(file).toHaveLength(1);
        else expect(file.every((p) => p.startsWith('arguments.file'))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
