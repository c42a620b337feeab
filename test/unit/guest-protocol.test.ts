import { Duplex, PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { VmactorError } from '../../src/errors/vmactor-error.js';
import { GuestAgentClient } from '../../src/guest/agent-client.js';
import {
  GuestAgentClosedError,
  GuestAgentReplyError,
  GuestAgentTimeoutError,
  GuestProtocolError,
  GuestRequestInvalidError,
} from '../../src/guest/errors.js';
import { formatRequest, parseGuestLine } from '../../src/guest/protocol.js';

/** An in-memory channel: `client` is what the host client uses, `toHost`/`fromHost` are the guest's side. */
function channel() {
  const toHost = new PassThrough();
  const fromHost = new PassThrough();
  const client = Duplex.from({ readable: toHost, writable: fromHost });
  const sent: string[] = [];
  fromHost.setEncoding('utf8').on('data', (d: string) => sent.push(...d.split('\n').filter(Boolean)));
  return { client, toHost, sent };
}

describe('guest protocol lines', () => {
  it('recognises the ready line and its kernel release', () => {
    expect(parseGuestLine('VMACTOR-GUEST-READY 6.1.0-56-cloud-amd64')).toEqual({
      kind: 'ready',
      release: '6.1.0-56-cloud-amd64',
    });
  });

  it('parses an ok reply with its JSON payload', () => {
    expect(parseGuestLine('7 ok {"online":2,"onlineList":"0-1"}')).toEqual({
      kind: 'ok',
      id: '7',
      result: { online: 2, onlineList: '0-1' },
    });
  });

  it('parses an err reply and keeps the message whole', () => {
    expect(parseGuestLine('8 err no such file: /x y')).toEqual({
      kind: 'err',
      id: '8',
      message: 'no such file: /x y',
    });
  });

  it('tolerates a trailing carriage return', () => {
    expect(parseGuestLine('1 ok []\r')).toEqual({ kind: 'ok', id: '1', result: [] });
  });

  it('marks console noise, bad ids, unknown statuses and bad JSON as invalid', () => {
    expect(parseGuestLine('[    1.23] random kernel message').kind).toBe('invalid');
    expect(parseGuestLine('1 maybe {}').kind).toBe('invalid');
    expect(parseGuestLine('1 ok {not json').kind).toBe('invalid');
    expect(parseGuestLine('noid').kind).toBe('invalid');
  });

  it('formats a request as id, command and arguments separated by single spaces', () => {
    expect(formatRequest('3', 'mount', ['virtiofs', 'share', '/mnt/share'])).toEqual({
      ok: true,
      line: '3 mount virtiofs share /mnt/share\n',
    });
    expect(formatRequest('4', 'read-block', ['vdb', 16])).toEqual({
      ok: true,
      line: '4 read-block vdb 16\n',
    });
  });

  it('lets only the text of write-block contain spaces', () => {
    expect(formatRequest('5', 'write-block', ['vdb', 'hello guest disk']).ok).toBe(true);
    expect(formatRequest('6', 'read', ['/a b']).ok).toBe(false);
  });

  it('refuses newlines, empty arguments, unknown commands and bad ids', () => {
    expect(formatRequest('1', 'write-block', ['vdb', 'a\nb']).ok).toBe(false);
    expect(formatRequest('1', 'read', ['']).ok).toBe(false);
    expect(formatRequest('1', 'rm-rf', []).ok).toBe(false);
    expect(formatRequest('1 2', 'ping', []).ok).toBe(false);
  });
});

describe('GuestAgentClient', () => {
  it('resolves waitReady on the ready line and remembers the release', async () => {
    const { client, toHost } = channel();
    const agent = new GuestAgentClient(client);
    const ready = agent.waitReady({ timeout: 1000 });
    toHost.write('VMACTOR-GUEST-');
    toHost.write('READY 6.1.0-test\n');
    await expect(ready).resolves.toEqual({ release: '6.1.0-test' });
    expect(agent.release).toBe('6.1.0-test');
    await expect(agent.waitReady({ timeout: 1 })).resolves.toEqual({ release: '6.1.0-test' });
    agent.close();
  });

  it('counts the answer to its ping as readiness when no ready line comes (a quick reconnect)', async () => {
    const { client, toHost, sent } = channel();
    const agent = new GuestAgentClient(client);
    const ready = agent.waitReady({ timeout: 1000 });
    await new Promise<void>((r) => setImmediate(r));
    expect(sent).toEqual(['1 ping']);
    toHost.write('1 ok {"pong":true,"release":"6.1.0-ping"}\n');
    await expect(ready).resolves.toEqual({ release: '6.1.0-ping' });
    agent.close();
  });

  it('sends nothing while waiting for the ready line when asked not to ping', async () => {
    const { client, sent } = channel();
    const agent = new GuestAgentClient(client);
    await expect(agent.waitReady({ timeout: 20, ping: false })).rejects.toBeInstanceOf(
      GuestAgentTimeoutError,
    );
    expect(sent).toEqual([]);
    agent.close();
  });

  it('correlates replies by id even when they arrive out of order', async () => {
    const { client, toHost, sent } = channel();
    const agent = new GuestAgentClient(client);
    const cpus = agent.request('cpus', []);
    const mem = agent.request('mem', []);
    await new Promise<void>((r) => setImmediate(r));
    expect(sent).toEqual(['1 cpus', '2 mem']);
    toHost.write('2 ok {"memTotalKiB":1024,"blocksOnline":1,"blocksOffline":0}\n');
    toHost.write('1 ok {"online":2,"onlineList":"0-1","presentList":"0-1","possibleList":"0-3"}\n');
    await expect(mem).resolves.toMatchObject({ memTotalKiB: 1024 });
    await expect(cpus).resolves.toMatchObject({ online: 2 });
    agent.close();
  });

  it('turns an err reply into a typed GuestAgentReplyError naming the command', async () => {
    const { client, toHost } = channel();
    const agent = new GuestAgentClient(client);
    const p = agent.request('read', ['/nope']);
    toHost.write('1 err no such file: /nope\n');
    const e = await p.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GuestAgentReplyError);
    expect(e).toBeInstanceOf(VmactorError);
    expect(e).toMatchObject({ code: 'ERR_GUEST_AGENT_REPLY', command: 'read' });
    agent.close();
  });

  it('rejects a malformed request before writing anything', async () => {
    const { client, sent } = channel();
    const agent = new GuestAgentClient(client);
    await expect(agent.request('read', ['/a\nb'])).rejects.toBeInstanceOf(GuestRequestInvalidError);
    await new Promise<void>((r) => setImmediate(r));
    expect(sent).toEqual([]);
    agent.close();
  });

  it('rejects at the deadline and ignores the late reply', async () => {
    const { client, toHost } = channel();
    const agent = new GuestAgentClient(client);
    await expect(agent.request('ping', [], { timeout: 20 })).rejects.toBeInstanceOf(GuestAgentTimeoutError);
    toHost.write('1 ok {"pong":true,"release":"x"}\n');
    await expect(agent.waitReady({ timeout: 20 })).rejects.toMatchObject({ code: 'ERR_GUEST_AGENT_TIMEOUT' });
    agent.close();
  });

  it('rejects every pending call with GuestAgentClosedError on EOF', async () => {
    const { client, toHost } = channel();
    const agent = new GuestAgentClient(client);
    const ready = agent.waitReady();
    const ping = agent.request('ping', []);
    toHost.end();
    await expect(ready).rejects.toBeInstanceOf(GuestAgentClosedError);
    await expect(ping).rejects.toBeInstanceOf(GuestAgentClosedError);
    await expect(agent.request('ping', [])).rejects.toBeInstanceOf(GuestAgentClosedError);
  });

  it('treats an overlong line as a protocol error and closes the channel', async () => {
    const { client, toHost } = channel();
    const agent = new GuestAgentClient(client, { maxLineBytes: 64 });
    const ping = agent.request('ping', []);
    toHost.write('x'.repeat(100));
    await expect(ping).rejects.toBeInstanceOf(GuestProtocolError);
  });

  it('rejects waitReady at once when aborted', async () => {
    const { client } = channel();
    const agent = new GuestAgentClient(client);
    const ac = new AbortController();
    const p = agent.waitReady({ signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(GuestAgentTimeoutError);
    agent.close();
  });
});
