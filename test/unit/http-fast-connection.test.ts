// The HTTP fast path's connection state machine on its own: the transition table, and a FastConnection driven
// through in-memory sockets (a client side and the node connections the pool opens), with a real node chooser.
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nextFastState, type FastEvent, type FastState } from '../../src/http/fast-connection-state.js';
import { FastConnection, type FastPathContext } from '../../src/http/fast-connection.js';
import { BackendPool } from '../../src/http/backend-pool.js';
import { HttpStats } from '../../src/http/http-stats.js';
import { HttpNodeChooser } from '../../src/http/node-chooser.js';
import { serviceUnavailable } from '../../src/http/replies.js';
import { NodeRegistry } from '../../src/registry/node-registry.js';
import { RoundRobinAlgorithm } from '../../src/algorithms/round-robin.js';
import { silentLogger } from '../../src/log.js';

describe('fast connection transitions', () => {
  const states: FastState[] = ['head', 'body', 'response', 'closed'];
  const table: [FastState, FastEvent, FastState | undefined][] = [
    ['head', 'request', 'response'],
    ['head', 'request-with-body', 'body'],
    ['body', 'body-sent', 'response'],
    ['response', 'answered', 'head'],
    ['head', 'answered', 'head'],
    ['response', 'request', undefined],
    ['body', 'request-with-body', undefined],
    ['head', 'body-sent', undefined],
    ['body', 'answered', undefined],
    ['closed', 'request', undefined],
    ['closed', 'answered', undefined],
  ];
  it.each(table)('%s --%s--> %s', (from, event, to) => {
    expect(nextFastState(from, event)).toBe(to);
  });
  it('closes from every state', () => {
    for (const s of states) expect(nextFastState(s, 'close')).toBe('closed');
  });
});

/** One end of an in-memory connection: what the code under test writes is collected, `receive` feeds it. */
class FakeSocket extends Duplex {
  readonly remoteAddress = '192.0.2.7';
  private text = '';
  constructor(readonly target = '') {
    super({ allowHalfOpen: true });
  }
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString('latin1');
    cb();
  }
  override _final(cb: () => void): void {
    cb();
  }
  setNoDelay(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  receive(text: string): void {
    this.push(Buffer.from(text, 'latin1'));
  }
  /** Everything written so far, and forgets it. */
  takeWritten(): string {
    const t = this.text;
    this.text = '';
    return t;
  }
  get written(): string {
    return this.text;
  }
}

/** Lets the streams deliver what was pushed or written. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function setup(opts: { nodes?: number; unavailableHost?: boolean } = {}) {
  const registry = new NodeRegistry({ nodeTimeoutMs: 60_000, heartbeatIntervalMs: 5000 }, silentLogger());
  const algorithm = new RoundRobinAlgorithm();
  registry.on('changed', () => algorithm.nodesChanged(registry.live()));
  for (let i = 1; i <= (opts.nodes ?? 2); i++) registry.register({ ip: '10.0.0.1', hostname: `n${i}`, httpPort: 8080 + i, sessionId: `s${i}` });
  const chooser = new HttpNodeChooser(registry, algorithm);
  const choose = vi.spyOn(chooser, 'choose');
  const markRefused = vi.spyOn(chooser, 'markRefused');
  const backends: FakeSocket[] = [];
  const pool = new BackendPool((host, port) => {
    const s = new FakeSocket(`${host}:${port}`);
    backends.push(s);
    return s as unknown as Socket;
  });
  const stats = new HttpStats();
  const handedOff: { unread: string; noNode: boolean }[] = [];
  const ctx: FastPathContext = {
    chooser: () => chooser,
    stats,
    log: silentLogger(),
    failures: { stats, maxRetries: 2, refusedForMs: 5000 },
    noNodeReply: () => (opts.unavailableHost ? undefined : serviceUnavailable(9)),
    handOff: (_socket, unread, noNode) => handedOff.push({ unread: unread.toString('latin1'), noNode }),
  };
  const client = new FakeSocket();
  const conn = new FastConnection(client as unknown as Socket, ctx, pool);
  pools.push(pool);
  return { client, conn, backends, pool, stats, choose, markRefused, handedOff };
}

const pools: BackendPool[] = [];
afterEach(() => {
  for (const p of pools.splice(0)) p.destroy();
});

const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

describe('FastConnection', () => {
  it('relays a GET to the chosen node and the answer back, then waits for the next request on a pooled node connection', async () => {
    const { client, conn, backends, pool, stats } = setup();
    client.receive('GET /a HTTP/1.1\r\nHost: lb\r\nConnection: keep-alive\r\n\r\n');
    await settle();
    expect(conn.currentState).toBe('response');
    expect(backends).toHaveLength(1);
    const sent = backends[0]!.takeWritten();
    expect(sent).toMatch(/^GET \/a HTTP\/1\.1\r\n/);
    expect(sent).toContain('X-Forwarded-For: 192.0.2.7');
    expect(sent).not.toMatch(/^connection:/im);
    backends[0]!.receive('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    await settle();
    expect(client.takeWritten()).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
    expect(conn.currentState).toBe('head');
    expect(pool.idleCount).toBe(1);
    expect(stats.requests).toBe(1);
    expect(stats.responsesByStatus.get(200)).toBe(1);
  });

  it('holds a pipelined request until the answer to the one before is complete', async () => {
    const { client, backends } = setup({ nodes: 1 });
    client.receive('GET /1 HTTP/1.1\r\nHost: lb\r\n\r\nGET /2 HTTP/1.1\r\nHost: lb\r\n\r\n');
    await settle();
    expect(backends[0]!.takeWritten()).not.toContain('/2');
    backends[0]!.receive('HTTP/1.1 204 No Content\r\n\r\n');
    await settle();
    // The same node connection, back from the pool, carries the second request.
    expect(backends).toHaveLength(1);
    expect(backends[0]!.takeWritten()).toMatch(/^GET \/2 HTTP\/1\.1/);
  });

  it('goes through body while the request body arrives, then waits for the response', async () => {
    const { client, conn, backends } = setup();
    client.receive('PUT /b HTTP/1.1\r\nHost: lb\r\nContent-Length: 10\r\n\r\n12345');
    await settle();
    expect(conn.currentState).toBe('body');
    client.receive('67890');
    await settle();
    expect(conn.currentState).toBe('response');
    expect(backends[0]!.takeWritten()).toMatch(/\r\n\r\n1234567890$/);
  });

  it('sends an idempotent request to another node after a refused connection, and keeps the refusing node out', async () => {
    const { client, backends, stats, choose, markRefused } = setup();
    client.receive('GET /r HTTP/1.1\r\nHost: lb\r\n\r\n');
    await settle();
    const first = backends[0]!;
    first.destroy(refused());
    await settle();
    expect(backends).toHaveLength(2);
    expect(backends[1]!.target).not.toBe(first.target);
    expect(backends[1]!.takeWritten()).toMatch(/^GET \/r HTTP\/1\.1/);
    expect(stats.backendErrors).toBe(1);
    expect(markRefused).toHaveBeenCalledTimes(1);
    // The retry excludes the node that failed.
    expect(choose.mock.calls[1]![2]).toBeDefined();
    backends[1]!.receive('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    await settle();
    expect(client.takeWritten()).toMatch(/^HTTP\/1\.1 200 OK/);
  });

  it('answers 502 and closes when a POST cannot reach its node (not repeatable)', async () => {
    const { client, conn, backends, stats } = setup();
    client.receive('POST /p HTTP/1.1\r\nHost: lb\r\nContent-Length: 1\r\n\r\nx');
    await settle();
    backends[0]!.destroy(refused());
    await settle();
    expect(backends).toHaveLength(1);
    expect(client.written).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
    expect(client.written).toContain('The application server did not answer.');
    expect(client.writableEnded).toBe(true);
    expect(conn.currentState).toBe('closed');
    expect(stats.responsesByStatus.get(502)).toBe(1);
  });

  it('closes the client when the node connection breaks mid-response', async () => {
    const { client, backends, stats } = setup();
    client.receive('GET /m HTTP/1.1\r\nHost: lb\r\n\r\n');
    await settle();
    backends[0]!.receive('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
    await settle();
    backends[0]!.destroy(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
    await settle();
    expect(client.destroyed).toBe(true);
    expect(backends).toHaveLength(1);
    expect(stats.backendErrors).toBe(1);
  });

  it('answers 503 itself when no node can take a request, asking the chooser once per request, and keeps the connection', async () => {
    const { client, conn, choose, stats, handedOff } = setup({ nodes: 0 });
    client.receive('GET /x HTTP/1.1\r\nHost: lb\r\n\r\nHEAD /y HTTP/1.1\r\nHost: lb\r\n\r\n');
    await settle();
    const text = client.takeWritten();
    expect(text.split('HTTP/1.1 503 Service Unavailable').length - 1).toBe(2);
    expect(text).toContain('Retry-After: 9');
    // The HEAD answer has no body: the text ends with the first body and the second head.
    expect(text.endsWith('\r\n\r\n')).toBe(true);
    expect(choose).toHaveBeenCalledTimes(2);
    expect(stats.noNode).toBe(2);
    expect(stats.requests).toBe(2);
    expect(handedOff).toEqual([]);
    expect(conn.currentState).toBe('head');
  });

  it('closes after the 503 when the request without node had a body', async () => {
    const { client, conn } = setup({ nodes: 0 });
    client.receive('PUT /x HTTP/1.1\r\nHost: lb\r\nContent-Length: 3\r\n\r\nabc');
    await settle();
    expect(client.written).toMatch(/^HTTP\/1\.1 503 [\s\S]*Connection: close\r\n/);
    expect(client.writableEnded).toBe(true);
    expect(conn.currentState).toBe('closed');
  });

  it('hands a request without node to node:http when unavailableHost is set, saying there is no node', async () => {
    const { client, conn, choose, stats, handedOff } = setup({ nodes: 0, unavailableHost: true });
    const bytes = 'GET /shop HTTP/1.1\r\nHost: lb\r\n\r\n';
    client.receive(bytes);
    await settle();
    expect(handedOff).toEqual([{ unread: bytes, noNode: true }]);
    expect(choose).toHaveBeenCalledTimes(1);
    // node:http counts the request it answers.
    expect(stats.requests).toBe(0);
    expect(conn.currentState).toBe('closed');
  });

  it('hands HTTP/1.0 to node:http untouched, without asking for a node', async () => {
    const { client, choose, handedOff } = setup();
    client.receive('GET /old HTTP/1.0\r\n\r\n');
    await settle();
    expect(handedOff).toEqual([{ unread: 'GET /old HTTP/1.0\r\n\r\n', noNode: false }]);
    expect(choose).not.toHaveBeenCalled();
  });

  it('ends the connection when the client half-closes between requests', async () => {
    const { client, conn } = setup();
    client.push(null);
    await settle();
    expect(conn.currentState).toBe('closed');
    expect(client.writableEnded).toBe(true);
  });
});
