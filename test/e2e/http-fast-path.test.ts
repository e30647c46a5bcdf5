// The plain-HTTP/1.1 fast path end to end: keep-alive reuse on both sides, pipelining, chunked responses
// relayed intact, HEAD, bodies by Content-Length, and the hand-over of what it leaves to node:http.

import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answeredBy, request, startLb, startNode, untilClosed, waitForNodes, type Lb, type TestNode } from './http-harness.js';

/** Writes raw bytes on one connection and collects what comes back until `done` says so (or 5 s). */
function rawExchange(port: number, bytes: string, done: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`incomplete answer: ${text.slice(0, 500)}`));
    }, 5000);
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      text += d;
      if (done(text)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', reject);
  });
}

const count = (text: string, needle: string): number => text.split(needle).length - 1;

describe('HTTP fast path', () => {
  let lb: Lb;
  let node: TestNode;
  const url = (path: string): string => `http://127.0.0.1:${lb.httpPort}${path}`;

  beforeAll(async () => {
    lb = await startLb();
    node = await startNode('solo');
    await lb.heartbeats.register(node, { jvmRoute: 'solo' });
    await waitForNodes(lb, 1);
  }, 30_000);

  afterAll(async () => {
    lb?.heartbeats.stopAll();
    await lb?.daemon.stop();
    await node?.stop();
  });

  it('reuses node connections across requests of a keep-alive client', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const before = node.seen.length;
    for (let i = 0; i < 20; i++) expect((await request(url(`/reuse/${i}`), { agent })).status).toBe(200);
    agent.destroy();
    const ports = new Set(node.seen.slice(before).map((s) => s.remotePort));
    expect(node.seen.length - before).toBe(20);
    expect(ports.size).toBe(1);
  });

  it('answers pipelined requests in order on one connection', async () => {
    const req = (i: number): string => `GET /pipe/${i} HTTP/1.1\r\nHost: lb\r\n\r\n`;
    const text = await rawExchange(lb.httpPort, req(1) + req(2) + req(3), (t) => count(t, '"url":"/pipe/') === 3);
    expect(count(text, 'HTTP/1.1 200 OK')).toBe(3);
    expect(text.indexOf('/pipe/1')).toBeLessThan(text.indexOf('/pipe/2'));
    expect(text.indexOf('/pipe/2')).toBeLessThan(text.indexOf('/pipe/3'));
  });

  it('relays a chunked response with its trailer intact', async () => {
    const text = await rawExchange(lb.httpPort, 'GET /chunked HTTP/1.1\r\nHost: lb\r\n\r\n', (t) => t.includes('\r\n0\r\n') && t.endsWith('\r\n\r\n') && t.includes('x-sum'));
    expect(text).toMatch(/transfer-encoding: chunked/i);
    expect(text).toMatch(/\r\n0\r\nx-sum: 5\r\n\r\n$/i);
    const reply = await request(url('/chunked'));
    expect(reply.body).toBe(Array.from({ length: 5 }, (_, n) => `piece${n}-`.repeat(50)).join(''));
  });

  it('answers HEAD without a body and keeps the connection usable', async () => {
    const text = await rawExchange(
      lb.httpPort,
      'HEAD /head HTTP/1.1\r\nHost: lb\r\n\r\nGET /after-head HTTP/1.1\r\nHost: lb\r\n\r\n',
      (t) => t.includes('/after-head'),
    );
    expect(count(text, 'HTTP/1.1 200 OK')).toBe(2);
  });

  it('relays a 100 KB body sent with Content-Length', async () => {
    const body = 'z'.repeat(100 * 1024);
    const reply = await request(url('/echo/length'), { method: 'PUT', body, headers: { 'content-type': 'text/plain' } });
    expect(reply.status).toBe(200);
    expect(reply.body.length).toBe(body.length);
    expect(reply.body).toBe(body);
  });

  it('hands HTTP/1.0 and malformed-looking requests to node:http, which still answers them', async () => {
    const old = await rawExchange(lb.httpPort, 'GET /old HTTP/1.0\r\n\r\n', (t) => t.includes('"url":"/old"'));
    expect(old).toMatch(/^HTTP\/1\.[01] 200/);
    const bad = await rawExchange(lb.httpPort, 'GET / HTTP/1.1\r\nHost: lb\r\nBad Header: x\r\n\r\n', (t) => t.includes('\r\n\r\n'));
    expect(bad).toMatch(/^HTTP\/1\.1 400/);
  });

  it('closes the connection after a request with Connection: close', async () => {
    const text = await untilClosed(lb.httpPort, 'GET /bye HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n');
    expect(text).toMatch(/connection: close/i);
    expect(text).toContain('"url":"/bye"');
  });

  it('answers a request whose client half-closed at once (socket.end(request)), then closes', async () => {
    const get = await untilClosed(lb.httpPort, 'GET /half-closed HTTP/1.1\r\nHost: lb\r\n\r\n', true);
    expect(get).toMatch(/^HTTP\/1\.1 200 /);
    expect(get).toContain('"url":"/half-closed"');
    const post = await untilClosed(lb.httpPort, 'POST /half-closed-post HTTP/1.1\r\nHost: lb\r\nContent-Length: 5\r\n\r\nhello', true);
    expect(post).toMatch(/^HTTP\/1\.1 200 /);
    expect(post).toContain('"url":"/half-closed-post"');
    // HTTP/1.0 goes to node:http (the slow path): answered the same way.
    const old = await untilClosed(lb.httpPort, 'GET /half-closed-old HTTP/1.0\r\n\r\n', true);
    expect(old).toMatch(/^HTTP\/1\.[01] 200 /);
    expect(old).toContain('"url":"/half-closed-old"');
  });

  it('still answers through a node that restarted (stale pooled connections are retried)', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    expect(answeredBy(await request(url('/before-restart'), { agent }))).toBe('solo');
    await node.stop();
    const again = await startNode('solo2');
    // Same registry entry cannot be reused (new port): register the new one and wait.
    await lb.heartbeats.register(again, { jvmRoute: 'solo2' });
    lb.heartbeats.stop('solo');
    node = again;
    await waitForNodes(lb, 1);
    for (let i = 0; i < 5; i++) expect((await request(url(`/after-restart/${i}`), { agent })).status).toBe(200);
    agent.destroy();
  });

  it('logs "Stopping the http forwarder" when stopped, with open client connections', async () => {
    const agent = new http.Agent({ keepAlive: true });
    await request(url('/last'), { agent });
    expect(await lb.daemon.stop()).toBe(0);
    await lb.daemon.waitForLog('Stopping the http forwarder', 1000);
    agent.destroy();
  });
});
