// Real application-server stand-ins for the HTTP balancer's end-to-end tests: node:http (or https) servers
// with an application WebSocket, optional SIP-over-WebSocket connectors, registered over the JSON heartbeat.

import type { AddressInfo } from 'node:net';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { lbstat, registerNode } from '../helpers/json-heartbeat.js';

export { lbstat };
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { waitUntil } from '../helpers/wait.js';

export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The balancer's side of the connection the request came on (same port = a reused connection). */
  readonly remotePort: number | undefined;
}

export interface TestNode {
  readonly name: string;
  readonly httpPort: number;
  readonly wsPort?: number;
  readonly sslPort?: number;
  readonly seen: Seen[];
  /** URLs of requests whose connection closed before the node answered (client aborts reaching the node). */
  readonly aborted: string[];
  stop(): Promise<void>;
}

export interface NodeOptions {
  /** Answer GET /setcookie with `Set-Cookie: JSESSIONID=<random>.<route>`. */
  readonly setCookieRoute?: string;
  /** Answer GET /setcookie with `Set-Cookie: JSESSIONID=<random>` (a plain servlet container: no jvmRoute). */
  readonly sessionWithoutRoute?: boolean;
  /** A status to answer instead of 200, per request URL (undefined: 200); read at each request. */
  readonly statusFor?: (url: string) => number | undefined;
  /** Also run a SIP-over-WebSocket connector (subprotocol sip) on its own port. */
  readonly sipWebSocket?: boolean;
  /** Serve HTTPS on an sslPort too, with this certificate. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

function handler(name: string, opts: NodeOptions, seen: Seen[], aborted: string[], scheme: string) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    seen.push({ method: req.method ?? '', url, headers: req.headers, remotePort: req.socket.remotePort });
    res.on('close', () => {
      if (!res.writableFinished) aborted.push(url);
    });
    if (url.startsWith('/slow')) return; // never answers: the client gives up
    if (url.startsWith('/chunked')) {
      // A chunked response written in pieces, with a trailer.
      res.writeHead(200, { 'x-node': name, trailer: 'x-sum' });
      let n = 0;
      const timer = setInterval(() => {
        res.write(`piece${n}-`.repeat(50));
        if (++n === 5) {
          clearInterval(timer);
          res.addTrailers({ 'x-sum': '5' });
          res.end();
        }
      }, 5);
      req.resume();
      return;
    }
    if (url.startsWith('/echo')) {
      // Streams the body back as it arrives (chunked: no Content-Length).
      res.writeHead(200, { 'x-node': name, 'x-request-te': String(req.headers['transfer-encoding'] ?? '') });
      req.pipe(res);
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-node': name };
    if (url.startsWith('/setcookie') && opts.setCookieRoute) {
      headers['set-cookie'] = `JSESSIONID=${Math.random().toString(36).slice(2)}.${opts.setCookieRoute}; Path=/; HttpOnly`;
    } else if (url.startsWith('/setcookie') && opts.sessionWithoutRoute) {
      headers['set-cookie'] = `JSESSIONID=${name}-${Math.random().toString(36).slice(2)}; Path=/; HttpOnly`;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(opts.statusFor?.(url) ?? 200, headers);
      res.end(JSON.stringify({ node: name, scheme, method: req.method, url, headers: req.headers }));
    });
  };
}

function echoWebSockets(wss: WebSocketServer, prefix: string): void {
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `${prefix}${data.toString()}`, { binary: isBinary }));
  });
}

/** Listens on a free port of 127.0.0.1 and resolves with it. */
function listen(server: http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function startNode(name: string, opts: NodeOptions = {}): Promise<TestNode> {
  const seen: Seen[] = [];
  const aborted: string[] = [];
  const servers: http.Server[] = [];
  const sockets: WebSocketServer[] = [];

  const server = http.createServer(handler(name, opts, seen, aborted, 'http'));
  const app = new WebSocketServer({ server, handleProtocols: (p) => (p.has('chat') ? 'chat' : false) });
  echoWebSockets(app, `${name}/chat:`);
  sockets.push(app);
  const httpPort = await listen(server);
  servers.push(server);

  let wsPort: number | undefined;
  if (opts.sipWebSocket) {
    const wsServer = http.createServer((_req, res) => res.writeHead(426).end());
    const sip = new WebSocketServer({ server: wsServer, handleProtocols: (p) => (p.has('sip') ? 'sip' : false) });
    echoWebSockets(sip, `${name}/sip:`);
    sockets.push(sip);
    wsPort = await listen(wsServer);
    servers.push(wsServer);
  }

  let sslPort: number | undefined;
  if (opts.tls) {
    const tlsServer = https.createServer({ cert: opts.tls.cert, key: opts.tls.key }, handler(name, opts, seen, aborted, 'https'));
    sslPort = await listen(tlsServer);
    servers.push(tlsServer);
  }

  let stopped = false;
  return {
    name,
    httpPort,
    wsPort,
    sslPort,
    seen,
    aborted,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const s of sockets) {
        for (const c of s.clients) c.terminate();
        s.close();
      }
      await Promise.all(servers.map(close));
    },
  };
}

/** Registers nodes over the JSON heartbeat and keeps them alive until told to stop. */
export class Heartbeats {
  private readonly stops = new Map<string, () => void>();

  constructor(private readonly heartbeatPort: number, private readonly intervalMs = 300) {}

  async register(node: TestNode, extra: { jvmRoute?: string; properties?: Record<string, string> } = {}): Promise<void> {
    const sessionId = `${node.name}-${Math.random().toString(36).slice(2)}`;
    const start = {
      hostName: node.name,
      ip: '127.0.0.1',
      httpPort: node.httpPort,
      ...(node.wsPort !== undefined ? { wsPort: node.wsPort } : {}),
      ...(node.sslPort !== undefined ? { sslPort: node.sslPort } : {}),
      ...(extra.jvmRoute !== undefined ? { jvmRoute: extra.jvmRoute } : {}),
      ...extra.properties,
      version: '0',
      sessionId,
    };
    this.stops.set(node.name, await registerNode(this.heartbeatPort, start, this.intervalMs));
  }

  stop(name: string): void {
    this.stops.get(name)?.();
    this.stops.delete(name);
  }

  stopAll(): void {
    for (const name of [...this.stops.keys()]) this.stop(name);
  }
}

/** A self-signed certificate for 127.0.0.1 and a PEM keystore (certificate and key in one file). */
export function selfSignedCertificate(): { dir: string; keystore: string; cert: string; key: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sipbalancer-http-tls-'));
  const keyPath = join(dir, 'k.pem');
  const certPath = join(dir, 'c.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', keyPath, '-out', certPath, '-days', '1'], { stdio: 'ignore' });
  const cert = readFileSync(certPath, 'utf8');
  const key = readFileSync(keyPath, 'utf8');
  const keystore = join(dir, 'keystore.pem');
  writeFileSync(keystore, cert + key);
  return { dir, keystore, cert, key, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Lb {
  readonly daemon: Daemon;
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly statisticPort: number;
  readonly heartbeats: Heartbeats;
}

/** Starts the daemon with HTTP on, HTTPS too when a keystore is given, and small heartbeat timings. */
export async function startLb(extra: Record<string, string | number | boolean> = {}, keystore?: string): Promise<Lb> {
  const daemon = await startDaemon({
    properties: {
      host: '127.0.0.1',
      externalPort: 0,
      internalPort: 0,
      heartbeatPort: 0,
      statisticPort: 0,
      httpPort: 0,
      ...(keystore !== undefined ? { httpsPort: 0, 'javax.net.ssl.keyStore': keystore, 'javax.net.ssl.trustStore': keystore } : {}),
      nodeTimeout: 1500,
      heartbeatInterval: 100,
      ...extra,
    },
  });
  const ports = daemon.ports();
  return { daemon, httpPort: ports.httpPort ?? 0, httpsPort: ports.httpsPort ?? 0, statisticPort: daemon.port('statisticPort'), heartbeats: new Heartbeats(daemon.port('heartbeatPort')) };
}

export async function waitForNodes(lb: Lb, count: number): Promise<void> {
  await waitUntil(async () => (await lbstat(lb.statisticPort)).activeNodes === count, `${count} active nodes`, 5000);
}

export interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One HTTP(S) request through `agent` (a fresh connection unless an agent is given). */
export function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; agent?: http.Agent | false } = {},
): Promise<Reply> {
  const lib = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: opts.agent ?? false, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${url}`)));
    req.end(opts.body);
  });
}

/**
 * Writes `bytes` on a new connection (TLS when `secure`), and half-closes with them when `end`; resolves with
 * everything read once the balancer closed its side (rejects after 5 s).
 */
export function untilClosed(port: number, bytes: string, end = false, secure = false): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const send = (): void => void (end ? socket.end(bytes) : socket.write(bytes));
    const socket: net.Socket = secure ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, send) : net.connect(port, '127.0.0.1', send);
    let t = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (t += d));
    socket.on('end', () => resolve(t));
    socket.on('error', reject);
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`connection not closed; read: ${t.slice(0, 300)}`));
    }, 5000);
  });
}

/** The node that answered, from the X-Node header the test nodes set. */
export function answeredBy(reply: Reply): string {
  return String(reply.headers['x-node'] ?? '');
}

/** Opens a WebSocket, sends `text`, resolves with the first message and the negotiated subprotocol. */
export function webSocketEcho(url: string, protocol: string, text: string): Promise<{ reply: string; protocol: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocol, { rejectUnauthorized: false });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no WebSocket echo from ${url}`));
    }, 5000);
    ws.on('open', () => ws.send(text));
    ws.on('message', (data) => {
      clearTimeout(timer);
      const result = { reply: data.toString(), protocol: ws.protocol };
      ws.close();
      resolve(result);
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
