// SIP over WebSocket (RFC 7118), plain (WS) and secure (WSS): the `sip` subprotocol is required, one SIP
// message per WebSocket message, responses and in-dialog requests return on the connection they belong to.

import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { isUtf8 } from 'node:buffer';
import type { Duplex } from 'node:stream';
import { createConnection as netCreateConnection, isIP, type Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { SipTransport, TlsConfig } from '../../config/types.js';
import { parseDatagram } from '../message.js';
import { uriHost } from '../uri.js';
import { connectionFor, openConnection, type PoolRules } from './connection-pool.js';
import { normaliseAddress } from './tcp.js';
import { connectToNode } from './tls.js';
import { clientTlsOptions, serverTlsOptions } from '../../config/tls-options.js';
import type { Flow, ListeningPoint, TransportOptions } from './transport.js';
import { guardedInterval } from '../../timers.js';
import { listen } from '../../listen.js';

/** The WebSocket subprotocol of SIP (RFC 7118 §4). */
export const SIP_SUBPROTOCOL = 'sip';
/** Longest time between two keep-alive pings; shorter when the idle timeout is short. */
export const MAX_PING_INTERVAL_MS = 30_000;

interface WsConnection {
  readonly ws: WebSocket;
  readonly key: string;
  readonly flow: Flow;
  /** Last SIP message or client ping, for the idle timeout. */
  lastActivity: number;
  /** A pong (or any frame) arrived since the last ping of ours. */
  alive: boolean;
  /** Outbound connections: messages written before the handshake completed, and their error callbacks. */
  queue: Buffer[] | undefined;
  waiting: ((err: Error) => void)[] | undefined;
}

/** The subprotocols a handshake offers (Sec-WebSocket-Protocol, comma-separated, RFC 6455 §4.1). */
export function offeredSubprotocols(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  const joined = Array.isArray(header) ? header.join(',') : header;
  return joined
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The HTTP answer to a WebSocket handshake without the `sip` subprotocol, or undefined when it offers it. */
export function refusalForSubprotocols(offered: readonly string[]): string | undefined {
  if (offered.some((p) => p.toLowerCase() === SIP_SUBPROTOCOL)) return undefined;
  const body =
    offered.length === 0
      ? 'This is a SIP WebSocket endpoint: offer the subprotocol "sip" (Sec-WebSocket-Protocol: sip, RFC 7118).\n'
      : `This is a SIP WebSocket endpoint: subprotocol "sip" required (RFC 7118); offered: ${offered.join(', ')}.\n`;
  return (
    'HTTP/1.1 400 Bad Request\r\n' +
    'Connection: close\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Sec-WebSocket-Protocol: sip\r\n' +
    '\r\n' +
    body
  );
}

/** Keep-alive ping period for an idle timeout: a few pings per idle period, at most every 30 s. */
export function pingIntervalFor(idleTimeoutMs: number): number {
  if (idleTimeoutMs <= 0) return MAX_PING_INTERVAL_MS;
  return Math.max(250, Math.min(MAX_PING_INTERVAL_MS, Math.floor(idleTimeoutMs / 3)));
}

export class WsListeningPoint implements ListeningPoint {
  readonly transport: SipTransport;
  readonly side;
  readonly host: string;
  /** The configured port until start(), then the bound one (they differ for port 0). */
  port: number;
  private readonly opts: TransportOptions;
  private readonly tls: TlsConfig | undefined;
  private server: HttpServer | undefined;
  private wss: WebSocketServer | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Open connections by "address:port" of the peer (inbound: its source; outbound: where we connected). */
  private readonly pool = new Map<string, WsConnection>();

  /** `tls` makes it WSS (with the identity and policies of config.tls); without it, WS. */
  constructor(opts: TransportOptions, tls?: TlsConfig) {
    this.opts = opts;
    this.tls = tls;
    this.transport = tls ? 'wss' : 'ws';
    this.side = opts.side;
    this.host = opts.host;
    this.port = opts.port;
  }

  async start(): Promise<void> {
    const { stats, log } = this.opts;
    const server = this.tls ? createHttpsServer(serverTlsOptions(this.tls)) : createHttpServer();
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.opts.maxMessageSize,
      perMessageDeflate: false,
      handleProtocols: (protocols) => (protocols.has(SIP_SUBPROTOCOL) ? SIP_SUBPROTOCOL : [...protocols].find((p) => p.toLowerCase() === SIP_SUBPROTOCOL) ?? false),
    });
    this.server = server;
    this.wss = wss;
    const limits = this.opts.streamLimits;
    if (limits) server.prependListener('connection', (socket: Socket) => void limits.admit(socket, this.transport));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    server.on('request', (req, res) => {
      // Plain HTTP on a SIP WebSocket port: say what it is.
      res.writeHead(426, { Upgrade: 'websocket', 'Sec-WebSocket-Protocol': SIP_SUBPROTOCOL, 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' });
      res.end('This is a SIP WebSocket endpoint (RFC 7118): connect with a WebSocket and the subprotocol "sip".\n');
    });
    if (this.tls) {
      server.on('tlsClientError', (err: Error, socket: Duplex & { remoteAddress?: string; remotePort?: number }) => {
        stats.tlsHandshakeFailures++;
        log.debug({ err }, `TLS handshake (WSS) with ${socket.remoteAddress}:${socket.remotePort} on ${this.host}:${this.port} failed`);
        socket.destroy();
      });
    }
    server.on('clientError', (err: Error, socket: Duplex) => {
      stats.connectionErrors++;
      log.debug({ err }, `Bad HTTP handshake on ${this.transport} ${this.host}:${this.port}`);
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    });
    this.port = await listen(server, this.port, this.host, { reusePort: true, onError: (err) => log.error({ err }, `${this.transport.toUpperCase()} server error on ${this.host}:${this.port}`) });
    // One timer per listening point for keep-alive pings and the idle timeout (never one per connection).
    this.sweepTimer = guardedInterval('WebSocket keep-alive sweep', pingIntervalFor(this.opts.idleTimeoutMs), () => this.sweep(), log);
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const wss = this.wss;
    const address = normaliseAddress(req.socket.remoteAddress ?? '');
    const port = req.socket.remotePort ?? 0;
    if (!wss) {
      socket.destroy();
      return;
    }
    const offered = offeredSubprotocols(req.headers['sec-websocket-protocol']);
    const refusal = refusalForSubprotocols(offered);
    if (refusal !== undefined) {
      this.opts.stats.dropped.inc('ws-subprotocol');
      // Counted in /lbstat (SipDroppedByReason ws-subprotocol); debug only, as scanners would flood the log.
      this.opts.log.debug(`Refused a WebSocket from ${address}:${port} on ${this.transport} ${this.host}:${this.port}: subprotocol "sip" not offered (${offered.join(', ') || 'none'})`);
      socket.end(refusal);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = this.adopt(ws, address, port, undefined);
      // Two connections from the same address:port cannot both be open; keep the newest.
      this.pool.set(conn.key, conn);
    });
  }

  private adopt(ws: WebSocket, address: string, port: number, queue: Buffer[] | undefined): WsConnection {
    const { stats, log } = this.opts;
    const key = `${address}:${port}`;
    const conn: WsConnection = {
      ws,
      key,
      flow: {
        transport: this.transport,
        local: this,
        remoteAddress: address,
        remotePort: port,
        outbound: queue !== undefined,
        send: (data) => this.write(conn, data),
      },
      lastActivity: Date.now(),
      alive: true,
      queue,
      waiting: queue ? [] : undefined,
    };
    let counted = false;
    const count = (): void => {
      if (counted) return;
      counted = true;
      stats.activeConnections.inc(this.transport);
    };
    if (queue === undefined) count();
    ws.on('open', () => {
      count();
      const pending = conn.queue ?? [];
      conn.queue = undefined;
      conn.waiting = undefined;
      for (const data of pending) this.sendFrame(ws, data);
    });
    ws.on('message', (data: RawData) => this.receive(conn, data));
    ws.on('pong', () => (conn.alive = true));
    ws.on('ping', () => {
      // A client's own keep-alive (RFC 7118 §5 leaves it to the WebSocket layer): the connection is in use.
      conn.alive = true;
      conn.lastActivity = Date.now();
    });
    ws.on('error', (err: Error & { code?: string }) => {
      stats.connectionErrors++;
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') stats.dropped.inc('too-large');
      log.debug({ err }, `${this.transport} connection ${key} failed`);
      this.failWaiting(conn, err);
    });
    ws.once('close', () => {
      if (counted) stats.activeConnections.dec(this.transport);
      if (this.pool.get(key) === conn) this.pool.delete(key);
      this.failWaiting(conn, new Error('connection closed'));
    });
    return conn;
  }

  private failWaiting(conn: WsConnection, err: Error): void {
    const waiting = conn.waiting;
    conn.waiting = undefined;
    conn.queue = undefined;
    if (waiting) for (const cb of waiting) cb(err);
  }

  private receive(conn: WsConnection, data: RawData): void {
    const { stats, log } = this.opts;
    conn.alive = true;
    conn.lastActivity = Date.now();
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const r = parseDatagram(buf);
    if (r.kind === 'message') {
      stats.bytes += buf.length;
      this.opts.onMessage(r.message, conn.flow);
    } else if (r.kind === 'malformed') {
      stats.malformed++;
      log.debug(`Malformed SIP message on ${this.transport} from ${conn.key} (${r.error})`);
    }
  }

  private write(conn: WsConnection, data: Buffer): void {
    conn.lastActivity = Date.now();
    this.opts.stats.bytes += data.length;
    if (conn.queue) conn.queue.push(data);
    else this.sendFrame(conn.ws, data);
  }

  /** Text frames for UTF-8 messages, binary frames otherwise (RFC 7118 §5.2). */
  private sendFrame(ws: WebSocket, data: Buffer): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(data, { binary: !isUtf8(data) });
  }

  /** What a WebSocket in the pool is, and how one is opened (the pool's rules are shared with TCP/TLS). */
  private readonly poolRules: PoolRules<WsConnection> = {
    transport: () => this.transport,
    isOpen: (conn) => conn.ws.readyState !== WebSocket.CLOSING && conn.ws.readyState !== WebSocket.CLOSED,
    stopped: () => !this.server,
    open: (address, port) => this.connect(address, port),
  };

  sendTo(data: Buffer, host: string, port: number, onError?: (err: Error) => void): void {
    const conn = connectionFor(this.pool, host, port, this.poolRules, onError);
    if (!conn) return;
    if (onError && conn.waiting) conn.waiting.push(onError);
    this.write(conn, data);
  }

  hasConnection(host: string, port: number): boolean {
    return openConnection(this.pool, host, port, this.poolRules) !== undefined;
  }

  /** A WebSocket to a node's ws/wss port, offering the `sip` subprotocol. */
  private connect(address: string, port: number): WsConnection {
    const url = `${this.transport}://${uriHost(address)}:${port}/`;
    const local = this.host === '0.0.0.0' || this.host === '::' ? undefined : this.host;
    const ws = new WebSocket(url, SIP_SUBPROTOCOL, {
      ...(this.tls ? { createConnection: this.tlsConnectCounted(this.tls, address, port) } : {}),
      localAddress: local,
      perMessageDeflate: false,
      maxPayload: this.opts.maxMessageSize,
      handshakeTimeout: 10_000,
    });
    return this.adopt(ws, address, port, []);
  }

  /**
   * tls.connect for ws with the balancer's client TLS options (trust store, identity), counting a TLS handshake
   * that fails after the TCP connection was made.
   */
  private tlsConnectCounted(tls: TlsConfig, address: string, port: number): typeof netCreateConnection {
    const { stats, log } = this.opts;
    const clientTls = clientTlsOptions(tls);
    const connect = (options: ConnectionOptions & { path?: string }): Socket => {
      // As ws's own tlsConnect: no path, SNI for host names only.
      return connectToNode(
        { ...options, ...clientTls, path: undefined, servername: isIP(address) === 0 ? address : '' } as ConnectionOptions,
        `TLS handshake (WSS) with node ${address}:${port}`,
        stats,
        log,
      );
    };
    return connect as unknown as typeof netCreateConnection;
  }

  /** Keep-alive and idle timeout: terminate peers that did not answer the last ping, close idle ones. */
  private sweep(): void {
    const now = Date.now();
    const idle = this.opts.idleTimeoutMs;
    for (const conn of this.pool.values()) {
      const ws = conn.ws;
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (idle > 0 && now - conn.lastActivity >= idle) {
        this.opts.log.debug(`Closing idle ${this.transport} connection ${conn.key}`);
        ws.close(1000, 'idle');
        continue;
      }
      if (!conn.alive) {
        this.opts.log.debug(`${this.transport} connection ${conn.key} did not answer a ping: closed`);
        this.opts.stats.connectionErrors++;
        ws.terminate();
        continue;
      }
      conn.alive = false;
      ws.ping();
    }
  }

  /** Open connections (for tests and /lbinfo). */
  get connections(): number {
    return this.pool.size;
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    const server = this.server;
    this.server = undefined;
    for (const conn of this.pool.values()) conn.ws.terminate();
    this.pool.clear();
    this.wss?.close();
    this.wss = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  toString(): string {
    return `${this.transport}:${this.host}:${this.port} (${this.side})`;
  }
}
