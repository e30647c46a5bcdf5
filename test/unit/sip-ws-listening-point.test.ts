// SIP over WebSocket (src/sip/transport/ws.ts), RFC 7118 rule by rule, with real sockets on 127.0.0.1:
// the sip subprotocol, one message per WebSocket message, the way back on the same connection, keep-alive
// pings, the idle timeout, outbound connections to a node's WS port.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { SipStats } from '../../src/sip/sip-stats.js';
import { silentLogger } from '../../src/log.js';
import type { SipMessage } from '../../src/sip/message.js';
import type { Flow } from '../../src/sip/transport/transport.js';
import { WsListeningPoint, offeredSubprotocols, pingIntervalFor, refusalForSubprotocols } from '../../src/sip/transport/ws.js';
import { freePort } from '../helpers/ports.js';
import {} from '../helpers/tls-ua.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls.js';
import type { TlsConfig } from '../../src/config/types.js';
import { waitUntil } from '../helpers/wait.js';

const OPTIONS = 'OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n';

interface Harness {
  lp: WsListeningPoint;
  stats: SipStats;
  received: { msg: SipMessage; flow: Flow }[];
  port: number;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function harness(idleTimeoutMs = 60_000, maxMessageSize = 65_536): Promise<Harness> {
  const stats = new SipStats();
  const received: { msg: SipMessage; flow: Flow }[] = [];
  const lp = new WsListeningPoint({ side: 'external', host: '127.0.0.1', port: 0, maxMessageSize, idleTimeoutMs, stats, log: silentLogger(), onMessage: (msg, flow) => received.push({ msg, flow }) });
  await lp.start();
  cleanups.push(() => lp.stop());
  return { lp, stats, received, port: lp.port };
}

function client(port: number, protocol: string | string[] = 'sip', opts: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, protocol, opts);
  cleanups.push(() => ws.terminate());
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

describe('handshake rules', () => {
  it('reads the offered subprotocols from one or several header lines', () => {
    expect(offeredSubprotocols('sip, chat')).toEqual(['sip', 'chat']);
    expect(offeredSubprotocols(['chat', ' sip '])).toEqual(['chat', 'sip']);
    expect(offeredSubprotocols(undefined)).toEqual([]);
  });
  it('refuses a handshake without sip with 400 and says why; accepts one that offers it', () => {
    expect(refusalForSubprotocols(['chat', 'sip'])).toBeUndefined();
    const r = refusalForSubprotocols(['chat'])!;
    expect(r.startsWith('HTTP/1.1 400 Bad Request\r\n')).toBe(true);
    expect(r).toContain('subprotocol "sip" required (RFC 7118); offered: chat');
    expect(refusalForSubprotocols([])).toContain('offer the subprotocol "sip"');
  });
  it('pings a few times per idle period, at most every 30 s', () => {
    expect(pingIntervalFor(300_000)).toBe(30_000);
    expect(pingIntervalFor(3000)).toBe(1000);
    expect(pingIntervalFor(0)).toBe(30_000);
  });
});

describe('WsListeningPoint', () => {
  it('accepts the sip subprotocol and hands each WebSocket message to the forwarder as one SIP message', async () => {
    const h = await harness();
    const ws = await client(h.port, ['chat', 'sip']);
    expect(ws.protocol).toBe('sip');
    ws.send(OPTIONS);
    ws.send(Buffer.from(OPTIONS.replace('c1', 'c2')), { binary: true });
    await waitUntil(() => h.received.length === 2);
    expect(h.received.map((r) => r.msg.callId)).toEqual(['c1', 'c2']);
    const flow = h.received[0]!.flow;
    expect([flow.transport, flow.remoteAddress, flow.local]).toEqual(['ws', '127.0.0.1', h.lp]);
    expect(h.stats.activeConnections.get('ws')).toBe(1);
  });

  it('refuses a WebSocket that does not offer sip, and answers plain HTTP with 426', async () => {
    const h = await harness();
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${h.port}`, 'chat');
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(400);
    expect(h.stats.dropped.get('ws-subprotocol')).toBe(1);
    const httpStatus = await new Promise<number>((resolve, reject) => get({ host: '127.0.0.1', port: h.port, path: '/' }, (res) => resolve(res.statusCode ?? 0)).on('error', reject));
    expect(httpStatus).toBe(426);
  });

  it('sends responses back on the same WebSocket: text frames for UTF-8, binary frames otherwise', async () => {
    const h = await harness();
    const ws = await client(h.port);
    const frames: { data: string; binary: boolean }[] = [];
    ws.on('message', (data: Buffer, binary: boolean) => frames.push({ data: data.toString('latin1'), binary }));
    ws.send(OPTIONS);
    await waitUntil(() => h.received.length === 1);
    h.received[0]!.flow.send(Buffer.from('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n'));
    // sendTo the client's address and port finds the same connection.
    h.lp.sendTo(Buffer.from([0x53, 0x49, 0x50, 0xff]), '127.0.0.1', h.received[0]!.flow.remotePort);
    await waitUntil(() => frames.length === 2);
    expect(frames[0]).toEqual({ data: 'SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n', binary: false });
    expect(frames[1]!.binary).toBe(true);
  });

  it('counts a message that is not SIP as malformed and keeps the connection', async () => {
    const h = await harness();
    const ws = await client(h.port);
    ws.send('hello');
    ws.send(OPTIONS);
    await waitUntil(() => h.received.length === 1);
    expect(h.stats.malformed).toBe(1);
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  it('closes a connection that sends a message larger than maxSipMessageSize (1009)', async () => {
    const h = await harness(60_000, 1024);
    const ws = await client(h.port);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.send('x'.repeat(2000));
    expect(await closed).toBe(1009);
    await waitUntil(() => h.stats.dropped.get('too-large') === 1);
    await waitUntil(() => h.stats.activeConnections.get('ws') === 0);
  });

  it('pings open connections and closes them after the idle timeout', async () => {
    const h = await harness(1000);
    const ws = await client(h.port);
    let pings = 0;
    ws.on('ping', () => pings++);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    const started = Date.now();
    expect(await closed).toEqual({ code: 1000, reason: 'idle' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(pings).toBeGreaterThanOrEqual(1);
  });

  it('terminates a silent peer that does not answer a ping before the next one, ahead of the idle timeout', async () => {
    const h = await harness(3000);
    const ws = await client(h.port, 'sip', { autoPong: false });
    const started = Date.now();
    const code = await new Promise<number>((resolve) => ws.once('close', (c) => resolve(c)));
    expect(code).toBe(1006);
    expect(Date.now() - started).toBeLessThan(2900);
    expect(h.stats.connectionErrors).toBe(1);
  });

  it('opens a WebSocket with the sip subprotocol to a node, queues until open, and receives on it', async () => {
    const h = await harness();
    const nodePort = await freePort();
    const node = new WebSocketServer({ host: '127.0.0.1', port: nodePort, handleProtocols: (p) => (p.has('sip') ? 'sip' : false) });
    cleanups.push(() => {
      for (const c of node.clients) c.terminate();
      return new Promise<void>((r) => node.close(() => r()));
    });
    const atNode: string[] = [];
    node.on('connection', (ws) => {
      expect(ws.protocol).toBe('sip');
      ws.on('message', (d: Buffer) => {
        atNode.push(d.toString());
        ws.send('SIP/2.0 200 OK\r\nVia: SIP/2.0/WS 127.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>;tag=2\r\nCall-ID: back\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n');
      });
    });
    h.lp.sendTo(Buffer.from(OPTIONS), '127.0.0.1', nodePort);
    h.lp.sendTo(Buffer.from(OPTIONS.replace('c1', 'c3')), '127.0.0.1', nodePort);
    await waitUntil(() => atNode.length === 2 && h.received.length === 2);
    expect(h.lp.connections).toBe(1);
    expect(h.received[0]!.flow.remotePort).toBe(nodePort);
  });

  it('reports a failed connection to a node to the sender', async () => {
    const h = await harness();
    const dead = await freePort();
    const err = await new Promise<Error>((resolve) => h.lp.sendTo(Buffer.from(OPTIONS), '127.0.0.1', dead, resolve));
    expect(err.message).toMatch(/ECONNREFUSED|closed/);
  });
});

describe('WsListeningPoint over TLS (WSS)', () => {
  let certs: TestCertificates;
  let cert: string;
  let tls: TlsConfig;
  let other: TestCertificates;
  beforeAll(() => {
    certs = makeTestCertificates();
    other = makeTestCertificates();
    cert = readFileSync(certs.certPem, 'utf8');
    tls = { material: { pfx: readFileSync(certs.p12), passphrase: certs.password, ca: [cert] }, clientAuth: 'none', minVersion: 'TLSv1.2', skipServerVerification: false };
  });
  afterAll(() => {
    for (const c of [certs, other]) if (c) rmSync(c.dir, { recursive: true, force: true });
  });

  async function wssPoint(over: Partial<TlsConfig> = {}): Promise<Harness> {
    const stats = new SipStats();
    const received: { msg: SipMessage; flow: Flow }[] = [];
    const lp = new WsListeningPoint({ side: 'external', host: '127.0.0.1', port: 0, maxMessageSize: 65_536, idleTimeoutMs: 60_000, stats, log: silentLogger(), onMessage: (msg, flow) => received.push({ msg, flow }) }, { ...tls, ...over });
    await lp.start();
    cleanups.push(() => lp.stop());
    return { lp, stats, received, port: lp.port };
  }

  it('serves wss:// with a PKCS#12 identity; messages arrive with transport wss', async () => {
    const h = await wssPoint();
    expect(h.lp.transport).toBe('wss');
    const ws = new WebSocket(`wss://127.0.0.1:${h.port}`, 'sip', { ca: cert });
    cleanups.push(() => ws.terminate());
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(OPTIONS);
    await waitUntil(() => h.received.length === 1);
    expect(h.received[0]!.flow.transport).toBe('wss');
    expect(h.stats.activeConnections.get('wss')).toBe(1);
  });

  it('connects out to a node\'s wss:// port verified by the trust store, and refuses an untrusted one', async () => {
    const h = await wssPoint();
    const nodePort = await freePort();
    const https = createHttpsServer({ cert, key: readFileSync(certs.keyPem) });
    const node = new WebSocketServer({ server: https, handleProtocols: (p) => (p.has('sip') ? 'sip' : false) });
    const atNode: string[] = [];
    node.on('connection', (ws) => ws.on('message', (d: Buffer) => atNode.push(d.toString())));
    await new Promise<void>((r) => https.listen(nodePort, '127.0.0.1', r));
    cleanups.push(() => {
      for (const c of node.clients) c.terminate();
      https.closeAllConnections();
      return new Promise<void>((r) => https.close(() => r()));
    });
    h.lp.sendTo(Buffer.from(OPTIONS), '127.0.0.1', nodePort);
    await waitUntil(() => atNode.length === 1);

    const stranger = await wssPoint({ material: { pfx: readFileSync(certs.p12), passphrase: certs.password, ca: [readFileSync(other.certPem, 'utf8')] } });
    const err = await new Promise<Error>((resolve) => stranger.lp.sendTo(Buffer.from(OPTIONS), '127.0.0.1', nodePort, resolve));
    expect(err.message).toMatch(/self-signed|certificate/i);
    expect(stranger.stats.tlsHandshakeFailures).toBe(1);
    expect(atNode).toHaveLength(1);
  });

  it('counts a failed TLS handshake on the WSS port (plain text, or no client certificate when Enabled)', async () => {
    const h = await wssPoint({ clientAuth: 'require' });
    const s = netConnect({ host: '127.0.0.1', port: h.port });
    s.on('error', () => undefined);
    s.once('connect', () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    await waitUntil(() => h.stats.tlsHandshakeFailures === 1);
    const ws = new WebSocket(`wss://127.0.0.1:${h.port}`, 'sip', { ca: cert });
    const outcome = await new Promise<string>((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('error', () => resolve('refused'));
    });
    expect(outcome).toBe('refused');
    await waitUntil(() => h.stats.tlsHandshakeFailures === 2);
    const withCert = new WebSocket(`wss://127.0.0.1:${h.port}`, 'sip', { ca: cert, cert, key: readFileSync(certs.keyPem) });
    cleanups.push(() => withCert.terminate());
    await new Promise<void>((resolve, reject) => {
      withCert.once('open', () => resolve());
      withCert.once('error', reject);
    });
  });
});
