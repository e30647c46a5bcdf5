// The HTTP/HTTPS and WebSocket balancer end to end: the daemon as a child process, real node:http / ws
// servers as nodes registered over the JSON heartbeat (issue 6, item 7).

import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { HALF_CLOSED_IDLE_MS } from '../../src/http/half-close.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../helpers/wait.js';
import { answeredBy, lbstat, request, selfSignedCertificate, startLb, startNode, untilClosed, waitForNodes, webSocketEcho, type Lb, type TestNode } from './http-harness.js';

// Both ways through the balancer: the fast path (plain HTTP/1.1 relayed by its own framing) and node:http.
describe.each([
  { fastPath: true, title: 'fast path' },
  { fastPath: false, title: 'node:http path' },
])('HTTP balancer with three nodes ($title)', ({ fastPath }) => {
  let lb: Lb;
  let nodes: TestNode[];
  let tls: ReturnType<typeof selfSignedCertificate>;
  const url = (path: string): string => `http://127.0.0.1:${lb.httpPort}${path}`;

  beforeAll(async () => {
    tls = selfSignedCertificate();
    lb = await startLb({ httpFastPath: fastPath }, tls.keystore);
    nodes = [
      await startNode('node1', { sipWebSocket: true }),
      await startNode('node2'),
      await startNode('node3', { sipWebSocket: true, setCookieRoute: 'learned3' }),
    ];
    await lb.heartbeats.register(nodes[0]!, { jvmRoute: 'node1' });
    await lb.heartbeats.register(nodes[1]!, { jvmRoute: 'node2' });
    await lb.heartbeats.register(nodes[2]!);
    await waitForNodes(lb, 3);
  }, 30_000);

  afterAll(async () => {
    lb?.heartbeats.stopAll();
    await lb?.daemon.stop();
    await Promise.all((nodes ?? []).map((n) => n.stop()));
    tls?.remove();
  });

  it('logs the listening ports as the manual shows', async () => {
    await lb.daemon.waitForLog(`HTTP LB listening on port ${lb.httpPort}`);
    await lb.daemon.waitForLog(`HTTPS LB listening on port ${lb.httpsPort}`);
  });

  it('spreads 6 requests without a session over 3 nodes, 2 each', async () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 6; i++) {
      const reply = await request(url(`/rr/${i}`));
      expect(reply.status).toBe(200);
      counts.set(answeredBy(reply), (counts.get(answeredBy(reply)) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ node1: 2, node2: 2, node3: 2 });
  });

  it('sends 20 requests with JSESSIONID=abc.node2 all to node2', async () => {
    for (let i = 0; i < 20; i++) {
      const reply = await request(url(`/sticky/${i}`), { headers: { cookie: 'theme=dark; JSESSIONID=abc.node2' } });
      expect(answeredBy(reply)).toBe('node2');
    }
  });

  it('honours ;jsessionid= path parameters and jsessionid query parameters', async () => {
    for (let i = 0; i < 4; i++) {
      expect(answeredBy(await request(url(`/app;jsessionid=abc.node1?i=${i}`)))).toBe('node1');
      expect(answeredBy(await request(url(`/app?i=${i}&jsessionid=abc.node2`)))).toBe('node2');
    }
  });

  it('learns a jvmRoute from the Set-Cookie of a node response and keeps the session there', async () => {
    let cookie: string | undefined;
    for (let i = 0; i < 3 && cookie === undefined; i++) {
      const reply = await request(url('/setcookie'));
      if (answeredBy(reply) === 'node3') cookie = String(reply.headers['set-cookie']?.[0]).split(';')[0];
    }
    expect(cookie).toMatch(/^JSESSIONID=.+\.learned3$/);
    for (let i = 0; i < 10; i++) expect(answeredBy(await request(url(`/after-cookie/${i}`), { headers: { cookie: cookie! } }))).toBe('node3');
  });

  it('adds X-Forwarded-For/-Proto/-Host and drops hop-by-hop headers', async () => {
    const reply = await request(url('/headers'), {
      headers: { host: 'shop.example', connection: 'keep-alive, x-private', 'x-private': 'secret', 'keep-alive': 'timeout=5', 'x-forwarded-for': '10.1.2.3' },
    });
    const seen = JSON.parse(reply.body) as { headers: Record<string, string> };
    expect(seen.headers['x-forwarded-for']).toBe('10.1.2.3, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe('shop.example');
    expect(seen.headers['x-private']).toBeUndefined();
    expect(seen.headers['keep-alive']).toBeUndefined();
  });

  it('terminates HTTPS and tells the node with X-Forwarded-Proto: https', async () => {
    const reply = await request(`https://127.0.0.1:${lb.httpsPort}/secure`);
    expect(reply.status).toBe(200);
    const seen = JSON.parse(reply.body) as { scheme: string; headers: Record<string, string> };
    expect(seen.scheme).toBe('http');
    expect(seen.headers['x-forwarded-proto']).toBe('https');
  });

  it('streams 20 KB chunked bodies both ways', async () => {
    const part = 'x'.repeat(1024);
    const reply = await new Promise<{ body: string; te: string; node: string; responseTe: string }>((resolve, reject) => {
      const req = http.request(url('/echo'), { method: 'POST', agent: false, headers: { 'content-type': 'text/plain' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ body, te: String(res.headers['x-request-te']), node: answeredBy({ status: 0, headers: res.headers, body: '' }), responseTe: String(res.headers['transfer-encoding']) }));
      });
      req.on('error', reject);
      let sent = 0;
      const writeMore = (): void => {
        if (sent === 20) {
          req.end();
          return;
        }
        sent++;
        req.write(part);
        setTimeout(writeMore, 2);
      };
      writeMore();
    });
    expect(reply.te).toBe('chunked');
    expect(reply.responseTe).toBe('chunked');
    expect(reply.body.length).toBe(20 * 1024);
    expect(reply.body).toBe(part.repeat(20));
  });

  it('answers a request whose client half-closed at once (socket.end(request)) on httpPort and httpsPort, then closes', async () => {
    for (const [port, secure] of [[lb.httpPort, false], [lb.httpsPort, true]] as const) {
      for (const version of ['1.1', '1.0']) {
        const text = await untilClosed(port, `GET /half-closed HTTP/${version}\r\nHost: lb\r\n\r\n`, true, secure);
        expect(text, `HTTP/${version}${secure ? ' over TLS' : ''}`).toMatch(/^HTTP\/1\.[01] 200 [^]*"url":"\/half-closed"/);
      }
    }
  });

  it('closes the node request when the client aborts: at once on a reset, after HALF_CLOSED_IDLE_MS of silence on a FIN', async () => {
    const seen = (path: string): number => nodes.reduce((n, node) => n + node.seen.filter((s) => s.url === path).length, 0);
    const abort = async (target: string, how: (socket: net.Socket) => void, withinMs: number): Promise<void> => {
      const path = new URL(target).pathname;
      const req = (target.startsWith('https:') ? https : http).request(target, { agent: false, rejectUnauthorized: false });
      req.on('error', () => undefined);
      req.end();
      await waitUntil(() => seen(path) > 0, `the node to see ${path}`, 5000);
      how(req.socket!);
      await waitUntil(() => nodes.some((n) => n.aborted.includes(path)), `the node to see the close of ${path}`, withinMs);
    };
    await abort(url('/slow/reset'), (socket) => socket.resetAndDestroy(), 2000);
    // A FIN alone could be a client that half-closed and still reads its answer (see above): the request is given
    // up once the connection has been silent for the bound. Over TLS as well.
    const fin = (socket: net.Socket): void => void socket.destroy();
    await Promise.all([
      abort(url('/slow/fin'), fin, HALF_CLOSED_IDLE_MS + 3000),
      abort(`https://127.0.0.1:${lb.httpsPort}/slow/tls-fin`, fin, HALF_CLOSED_IDLE_MS + 3000),
    ]);
  });

  it('tunnels a sip WebSocket to the node wsPort and an application WebSocket to its httpPort', async () => {
    const sip = await webSocketEcho(`ws://127.0.0.1:${lb.httpPort}/`, 'sip', 'REGISTER sip:example.com SIP/2.0');
    expect(sip.protocol).toBe('sip');
    expect(sip.reply).toMatch(/^node[13]\/sip:REGISTER sip:example.com SIP\/2.0$/);
    const chat = await webSocketEcho(`ws://127.0.0.1:${lb.httpPort}/chat`, 'chat', 'hello');
    expect(chat.protocol).toBe('chat');
    expect(chat.reply).toMatch(/^node[123]\/chat:hello$/);
    const secure = await webSocketEcho(`wss://127.0.0.1:${lb.httpsPort}/`, 'sip', 'OPTIONS');
    expect(secure.reply).toMatch(/^node[13]\/sip:OPTIONS$/);
  });

  it('counts requests, methods, status codes, bytes and connections in /lbstat', async () => {
    // Earlier tests' connections closed and counted (a connection's bytes are counted when it closes at the latest).
    await waitUntil(async () => (await lbstat(lb.statisticPort)).NumberOfActiveHttpConnections === 0, 'no open HTTP connection');
    const before = await lbstat(lb.statisticPort);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let responseBytes = 0;
    for (let i = 0; i < 5; i++) responseBytes += (await request(url(`/stat/${i}`), { agent })).body.length;
    const body = 'y'.repeat(1000);
    for (let i = 0; i < 3; i++) responseBytes += (await request(url('/stat/post'), { method: 'POST', body, agent, headers: { 'content-type': 'text/plain' } })).body.length;
    const during = await lbstat(lb.statisticPort);
    expect(during.NumberOfActiveHttpConnections).toBe(1);
    agent.destroy();
    await waitUntil(async () => (await lbstat(lb.statisticPort)).NumberOfActiveHttpConnections === 0, 'the connection closed and counted');
    const after = await lbstat(lb.statisticPort);
    const delta = (k: string): number => (after[k] as number) - (before[k] as number);
    const by = (doc: Record<string, unknown>, map: string, key: string): number => ((doc[map] as Record<string, number>)[key] ?? 0);
    expect(delta('NumberOfHttpRequests')).toBe(8);
    expect(by(after, 'HttpRequestsByMethod', 'GET') - by(before, 'HttpRequestsByMethod', 'GET')).toBe(5);
    expect(by(after, 'HttpRequestsByMethod', 'POST') - by(before, 'HttpRequestsByMethod', 'POST')).toBe(3);
    expect(by(after, 'HttpResponsesByStatusCode', '200') - by(before, 'HttpResponsesByStatusCode', '200')).toBe(8);
    // Wire bytes: the bodies plus the heads, so at least the bodies and less than bodies + 1 KB per request.
    expect(delta('NumberOfHttpBytesToServer')).toBeGreaterThanOrEqual(3 * 1000);
    expect(delta('NumberOfHttpBytesToServer')).toBeLessThan(3 * 1000 + 8 * 1024);
    expect(delta('NumberOfHttpBytesToClient')).toBeGreaterThanOrEqual(responseBytes);
    expect(delta('NumberOfHttpBytesToClient')).toBeLessThan(responseBytes + 8 * 1024);
    expect(after.NumberOfActiveHttpConnections).toBe(0);
  });

  it('keeps answering every request when two nodes die mid-run', async () => {
    const failures: string[] = [];
    const answered = new Set<string>();
    for (let i = 0; i < 40; i++) {
      if (i === 10) {
        lb.heartbeats.stop('node1');
        lb.heartbeats.stop('node2');
        await nodes[0]!.stop();
        await nodes[1]!.stop();
      }
      const reply = await request(url(`/failover/${i}`), { headers: i % 2 === 0 ? { cookie: 'JSESSIONID=abc.node1' } : {} });
      if (reply.status !== 200) failures.push(`${i}: ${reply.status}`);
      if (i > 10) answered.add(answeredBy(reply));
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(failures).toEqual([]);
    expect([...answered]).toEqual(['node3']);
    await waitForNodes(lb, 1);
  });
});

describe('HTTP balancer without nodes, with unavailableHost, httpsRedirect and isRemoteServerSsl', () => {
  const started: { stop(): Promise<unknown> }[] = [];
  let tls: ReturnType<typeof selfSignedCertificate>;

  beforeAll(() => {
    tls = selfSignedCertificate();
  });
  afterAll(async () => {
    for (const s of started.reverse()) await s.stop();
    tls?.remove();
  });

  it('answers 503 with Retry-After and a short body when no node is up', async () => {
    const lb = await startLb({ noNodeRetryAfter: 7 });
    started.push(lb.daemon);
    const reply = await request(`http://127.0.0.1:${lb.httpPort}/anything`);
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('7');
    expect(reply.body.length).toBeGreaterThan(0);
    expect(reply.body.length).toBeLessThan(200);
    const stats = await lbstat(lb.statisticPort);
    expect((stats.HttpResponsesByStatusCode as Record<string, number>)['503']).toBe(1);
  });

  it('sends requests to unavailableHost when no node is up', async () => {
    const maintenance = await startNode('maintenance');
    started.push(maintenance);
    const lb = await startLb({ unavailableHost: `127.0.0.1:${maintenance.httpPort}` });
    started.push(lb.daemon);
    const reply = await request(`http://127.0.0.1:${lb.httpPort}/shop`);
    expect(reply.status).toBe(200);
    expect(answeredBy(reply)).toBe('maintenance');
  });

  it('redirects HTTP to HTTPS with httpsRedirect=true: 301 for GET, 308 for POST', async () => {
    const lb = await startLb({ httpsRedirect: true }, tls.keystore);
    started.push(lb.daemon);
    const get = await request(`http://127.0.0.1:${lb.httpPort}/a?b=1`, { headers: { host: 'shop.example:80' } });
    expect(get.status).toBe(301);
    expect(get.headers.location).toBe(`https://shop.example:${lb.httpsPort}/a?b=1`);
    const post = await request(`http://127.0.0.1:${lb.httpPort}/form`, { method: 'POST', body: 'x=1' });
    expect(post.status).toBe(308);
  });

  it('reaches the node sslPort over TLS with isRemoteServerSsl=true', async () => {
    const node = await startNode('tlsnode', { tls: { cert: tls.cert, key: tls.key } });
    started.push(node);
    const lb = await startLb({ isRemoteServerSsl: true }, tls.keystore);
    started.push(lb.daemon);
    await lb.heartbeats.register(node);
    started.push({ stop: async () => lb.heartbeats.stopAll() });
    await waitForNodes(lb, 1);
    const reply = await request(`https://127.0.0.1:${lb.httpsPort}/over-tls`);
    expect(reply.status).toBe(200);
    expect((JSON.parse(reply.body) as { scheme: string }).scheme).toBe('https');
  });

  it('groups requests by httpAffinityKey with the consistent-hash algorithm', async () => {
    const group = [await startNode('h1'), await startNode('h2'), await startNode('h3')];
    started.push(...group);
    const lb = await startLb({ algorithmClass: 'header-consistent-hash', httpAffinityKey: 'appsession' });
    started.push(lb.daemon);
    for (const n of group) await lb.heartbeats.register(n);
    started.push({ stop: async () => lb.heartbeats.stopAll() });
    await waitForNodes(lb, 3);
    const owners = new Map<string, Set<string>>();
    for (let i = 0; i < 30; i++) {
      const key = `user${i % 6}`;
      const reply = await request(`http://127.0.0.1:${lb.httpPort}/app?appsession=${key}&i=${i}`);
      if (!owners.has(key)) owners.set(key, new Set());
      owners.get(key)!.add(answeredBy(reply));
    }
    for (const [, set] of owners) expect(set.size).toBe(1);
    // Six keys over three nodes land on more than one node.
    expect(new Set([...owners.values()].map((s) => [...s][0])).size).toBeGreaterThan(1);
  });
});
