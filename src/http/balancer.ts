// The HTTP/HTTPS balancer: listens on httpPort/httpsPort, chooses a node per request (node-chooser.ts) and
// streams the request and response through http-proxy-3 over keep-alive agents; WebSocket upgrades are
// tunnelled to the node's wsPort/wssPort (subprotocol sip) or httpPort, frames untouched.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net from 'node:net';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ProxyServer } from 'http-proxy-3';
import type { Service, ServiceContext } from '../service.js';
import { listen } from '../listen.js';
import type { ServerNode } from '../registry/server-node.js';
import type { HttpStats } from './http-stats.js';
import { HttpNodeChooser, type BackendKind, type NodeChoice } from './node-chooser.js';
import { addForwardedHeaders, hasHopByHop, stripHopByHop } from './headers.js';
import { incomingResponseHead, outgoingRequestHead, type OutgoingRequestHead } from './raw-headers.js';
import { clientTlsOptions, serverTlsOptions } from '../config/tls-options.js';
import { BAD_GATEWAY, parseHostPort, rawReply, redirectLocation, serviceUnavailable, type OwnReply } from './replies.js';
import { BackendPool } from './backend-pool.js';
import { FastConnection, type FastPathContext } from './fast-connection.js';
import { boundHalfClosed } from './half-close.js';
import { MAX_RETRIES, nodeAfterFailure, type FailureRules } from './backend-failure.js';
import { RequestCheck } from './request-check.js';
import { createNodeHealthMonitor, type NodeHealthMonitor } from '../algorithms/health.js';
import type { Config } from '../config/types.js';
import { sameSettings } from '../reload/changes.js';
import { guardedInterval } from '../timers.js';

/** What the balancer remembers about a request while it is proxied. */
interface BalancedRequest extends IncomingMessage {
  sbNode?: ServerNode;
  sbAttempts?: number;
  sbEncrypted?: boolean;
  sbKind?: BackendKind;
  sbHead?: OutgoingRequestHead;
  sbNodeRequest?: http.ClientRequest;
}

/** A client socket the fast path handed over after finding no node for its first request. */
interface HandedOverSocket extends Socket {
  sbNoNodeForFirstRequest?: boolean;
}

/** Bytes of a client socket already added to the statistics. */
interface CountedSocket extends Socket {
  /** Set once the socket is counted (a fast-path connection handed to the node:http server is not counted twice). */
  sbCounted?: boolean;
  sbCountedRead?: number;
  sbCountedWritten?: number;
}

type ProxyError = Error & { code?: string };

/** unavailableHost did not answer either. */
const UNAVAILABLE_HOST_FAILED: OwnReply = { status: 502, reason: 'Bad Gateway', body: 'No application server is available.\n', headers: {} };

const STATS_FLUSH_MS = 1000;
const LISTEN_HTTP = { what: 'HTTP' } as const;
/** While draining: how often idle node:http connections are closed and the open ones counted. */
const DRAIN_CHECK_MS = 50;

export class HttpBalancer implements Service {
  readonly name = 'http forwarder';
  private ctx: ServiceContext;
  private readonly stats: HttpStats;
  private readonly proxy: ProxyServer;
  private readonly plainAgent: http.Agent;
  private readonly tlsAgent: https.Agent;
  private chooser: HttpNodeChooser | undefined;
  private httpServer: http.Server | undefined;
  private httpsServer: https.Server | undefined;
  /** The plain-HTTP listener when the fast path is on; it hands what it does not handle to httpServer. */
  private fastServer: net.Server | undefined;
  private readonly pool = new BackendPool();
  private readonly sockets = new Set<CountedSocket>();
  /** The HTTPS port bound (httpsPort may be 0), where httpsRedirect sends clients. */
  private httpsPort: number | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private health: NodeHealthMonitor | undefined;
  private unavailable: { host: string; port: number } | undefined;
  /** Cached proxy targets, one per node, protocol and port. */
  private readonly targets = new WeakMap<ServerNode, Map<number, URL>>();
  /** The retry rules of both paths. */
  private readonly failures: FailureRules;

  constructor(ctx: ServiceContext, stats: HttpStats) {
    this.ctx = ctx;
    this.stats = stats;
    const cfg = ctx.config.http;
    // Read per failure: nodeTimeout may change with a hot reload.
    const refusedForMs = (): number => Math.min(this.ctx.config.registry.nodeTimeoutMs, 5000);
    this.failures = {
      stats,
      maxRetries: MAX_RETRIES,
      get refusedForMs() {
        return refusedForMs();
      },
    };
    // LIFO scheduling keeps few hot sockets per node; no cap on sockets so a burst never queues here.
    this.plainAgent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, maxFreeSockets: 256, scheduling: 'lifo' });
    this.tlsAgent = new https.Agent({ keepAlive: true, keepAliveMsecs: 1000, maxFreeSockets: 256, scheduling: 'lifo', ...clientTlsOptions(ctx.config.tls) });
    this.proxy = new ProxyServer({ xfwd: false, ws: true, proxyTimeout: 0 });
    this.proxy.on('proxyRes', (proxyRes, req) => this.onProxyResponse(proxyRes, req as BalancedRequest));
    this.proxy.on('econnreset', () => {
      // The client went away mid-request; http-proxy-3 has destroyed the node request already.
    });
    this.proxy.on('error', (err, _req, res) => {
      ctx.log.debug({ err }, 'HTTP proxy error');
      destroyQuietly(res);
    });
    this.unavailable = unavailableTarget(cfg.unavailableHost);
  }

  /**
   * Hot reload: unavailableHost, Retry-After and the node-health limits of requestCheckPattern follow `next`
   * from the next request on; listeners, TLS and the fast path need a restart (kept by the reloader).
   */
  reload(next: Config): void {
    const previous = this.ctx.config;
    this.ctx = { ...this.ctx, config: next };
    this.unavailable = unavailableTarget(next.http.unavailableHost);
    if (this.health && !sameSettings(previous.health, next.health)) this.health.reconfigure(next.health, next.health.quarantineMs);
  }

  async start(): Promise<void> {
    const { config, log } = this.ctx;
    const cfg = config.http;
    this.chooser = new HttpNodeChooser(this.ctx.registry, this.ctx.algorithm, { requestCheck: this.startRequestCheck() });
    if (cfg.port !== undefined) {
      const server = http.createServer({ keepAlive: true });
      this.attach(server, false);
      this.httpServer = server;
      // The fast path relays plain HTTP/1.1 itself; a redirect-everything listener has nothing to relay.
      const fastPath = cfg.fastPath && !(cfg.httpsRedirect && cfg.httpsPort !== undefined);
      if (fastPath) {
        const fast = net.createServer({ allowHalfOpen: true, noDelay: true });
        const fastCtx: FastPathContext = {
          chooser: () => this.chooser,
          stats: this.stats,
          log,
          failures: this.failures,
          noNodeReply: () => (this.unavailable === undefined ? serviceUnavailable(this.ctx.config.sip.retryAfterSeconds) : undefined),
          handOff: (socket: HandedOverSocket, unread, noNode) => {
            if (noNode) socket.sbNoNodeForFirstRequest = true;
            socket.pause();
            if (unread.length > 0) socket.unshift(unread);
            server.emit('connection', socket);
            socket.resume();
          },
        };
        fast.on('connection', (socket: CountedSocket) => {
          this.count(socket);
          boundHalfClosed(socket);
          new FastConnection(socket, fastCtx, this.pool);
        });
        this.fastServer = fast;
      }
      const port = await listen(this.fastServer ?? server, cfg.port, cfg.host, LISTEN_HTTP);
      this.ctx.listeners?.add('httpPort', 'tcp', cfg.host, port);
      log.info(`HTTP LB listening on port ${port}`);
    }
    if (cfg.httpsPort !== undefined) {
      // allowHalfOpen: a client that half-closes after its request is answered (as on httpPort; see attach()).
      const server = https.createServer({ ...serverTlsOptions(config.tls, `httpsPort=${cfg.httpsPort}`), allowHalfOpen: true });
      this.attach(server, true);
      this.httpsServer = server;
      const httpsPort = await listen(server, cfg.httpsPort, cfg.host, { what: 'HTTPS' });
      this.httpsPort = httpsPort;
      this.ctx.listeners?.add('httpsPort', 'tcp', cfg.host, httpsPort);
      log.info(`HTTPS LB listening on port ${httpsPort}`);
    }
    if (cfg.httpsRedirect && cfg.httpsPort === undefined) log.warn('httpsRedirect=true has no effect without httpsPort');
    this.flushTimer = guardedInterval('HTTP statistics flush', STATS_FLUSH_MS, () => this.flushAll(), log);
  }

  /** requestCheckPattern's rule, with its own node-health monitor (quarantine as for SIP), when the key is set. */
  private startRequestCheck(): RequestCheck | undefined {
    const pattern = this.ctx.config.http.requestCheckPattern;
    if (pattern === undefined) return undefined;
    this.health = createNodeHealthMonitor(this.ctx);
    this.health.start();
    return new RequestCheck(pattern, this.health, this.stats, this.ctx.log);
  }

  /**
   * Stops accepting; resolves when every client connection has ended. node:http connections close as soon as they
   * are idle; a fast-path connection stays until its client closes it or it idles out (bounded by shutdownTimeout).
   */
  drain(): Promise<void> {
    for (const s of [this.fastServer, this.httpServer, this.httpsServer]) if (s?.listening) s.close();
    return new Promise<void>((resolve) => {
      const check = (): void => {
        this.httpServer?.closeIdleConnections();
        this.httpsServer?.closeIdleConnections();
        if (this.sockets.size > 0) return;
        clearInterval(timer);
        resolve();
      };
      const timer = setInterval(check, DRAIN_CHECK_MS);
      timer.unref();
      check();
    });
  }

  async stop(): Promise<void> {
    this.health?.stop();
    this.health = undefined;
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = undefined;
    const closing = [this.fastServer, this.httpServer, this.httpsServer]
      .filter((s): s is net.Server => s !== undefined && s.listening)
      .map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    // Open keep-alive and WebSocket connections would hold close() open: end them now.
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(closing);
    this.flushAll();
    this.httpServer = undefined;
    this.httpsServer = undefined;
    this.fastServer = undefined;
    this.pool.destroy();
    this.plainAgent.destroy();
    this.tlsAgent.destroy();
    this.proxy.close();
    this.chooser?.close();
    this.chooser = undefined;
  }

  private attach(server: http.Server, encrypted: boolean): void {
    // A client may send its request and half-close at once (`socket.end(request)`): answer it, then close, as the
    // fast path does (half-close.ts bounds the wait). Node's default (false) takes the half-close as an abort, and
    // the answer is lost.
    (server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    server.on('connection', (socket: CountedSocket) => this.count(socket));
    server.on(encrypted ? 'secureConnection' : 'connection', (socket: Socket) => boundHalfClosed(socket));
    server.on('request', (req: BalancedRequest, res: ServerResponse) => this.onRequest(req, res, encrypted));
    server.on('upgrade', (req: BalancedRequest, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head, encrypted));
    server.on('clientError', (err: ProxyError, socket: Duplex) => {
      this.ctx.log.debug({ err: err.message }, 'HTTP client error');
      if (socket.writable && err.code !== 'ECONNRESET') socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    });
    if (encrypted) {
      server.on('tlsClientError', (err: Error) => this.ctx.log.debug({ err: err.message }, 'HTTPS handshake failed'));
    }
  }

  /** Counts a client connection while it is open, and its bytes (once, whichever server has it). */
  private count(socket: CountedSocket): void {
    if (socket.sbCounted) return;
    socket.sbCounted = true;
    this.stats.activeConnections++;
    socket.sbCountedRead = 0;
    socket.sbCountedWritten = 0;
    this.sockets.add(socket);
    socket.once('close', () => {
      this.stats.activeConnections--;
      this.sockets.delete(socket);
      this.flush(socket);
    });
  }

  /** Adds the bytes a client socket moved since the last flush (wire bytes, headers and frames included). */
  private flush(socket: CountedSocket): void {
    const read = socket.bytesRead;
    const written = socket.bytesWritten;
    this.stats.bytesToServer += read - (socket.sbCountedRead ?? 0);
    this.stats.bytesToClient += written - (socket.sbCountedWritten ?? 0);
    socket.sbCountedRead = read;
    socket.sbCountedWritten = written;
  }

  private flushAll(): void {
    for (const socket of this.sockets) this.flush(socket);
  }

  private backendKind(encrypted: boolean): BackendKind {
    return encrypted && this.ctx.config.http.isRemoteServerSsl ? 'https' : 'http';
  }

  private onRequest(req: BalancedRequest, res: ServerResponse, encrypted: boolean): void {
    const stats = this.stats;
    stats.requests++;
    stats.requestsByMethod.inc(req.method ?? 'UNKNOWN');
    const cfg = this.ctx.config.http;
    if (!encrypted && cfg.httpsRedirect && this.httpsPort !== undefined) {
      this.redirectToHttps(req, res, this.httpsPort);
      return;
    }
    req.sbEncrypted = encrypted;
    const kind = this.backendKind(encrypted);
    req.sbKind = kind;
    const head = outgoingRequestHead(req.rawHeaders, req.socket.remoteAddress, encrypted);
    const choice = this.firstChoice(req, kind, head.cookie ?? null);
    if (choice === undefined) {
      this.noNode(req, res);
      return;
    }
    req.sbHead = head;
    // One listener for the whole exchange, whichever node request is current: a client that goes away
    // before the response is complete closes the node request (the node sees the connection close).
    res.once('close', () => {
      if (!res.writableFinished) req.sbNodeRequest?.destroy();
    });
    this.forward(req, res, choice);
  }

  /** The node for a request, unless the fast path, which handed the connection over, found none already. */
  private firstChoice(req: BalancedRequest, kind: BackendKind, cookie: string | null): NodeChoice | undefined {
    const socket = req.socket as HandedOverSocket;
    if (socket.sbNoNodeForFirstRequest === true) {
      socket.sbNoNodeForFirstRequest = false;
      return undefined;
    }
    return this.chooser!.choose(req, kind, undefined, cookie);
  }

  /**
   * Sends the request to the chosen node over the keep-alive agent and streams the answer back. This is
   * the hot path: plain node:http with the flat rawHeaders arrays on both sides, no headers objects, no
   * per-request option merging (http-proxy-3 serves the WebSocket upgrades and unavailableHost).
   */
  private forward(req: BalancedRequest, res: ServerResponse, choice: NodeChoice): void {
    req.sbNode = choice.node;
    const head = req.sbHead!;
    const tls = req.sbKind === 'https';
    // HTTP/1.1 needs a Host; an HTTP/1.0 client may have sent none (RFC 9112 §3.2).
    if (!head.hasHost && req.sbAttempts === undefined) head.headers.push('Host', choice.node.ip.includes(':') ? `[${choice.node.ip}]:${choice.port}` : `${choice.node.ip}:${choice.port}`);
    const options: http.RequestOptions = {
      host: choice.node.ip,
      port: choice.port,
      method: req.method,
      path: req.url,
      headers: head.headers as unknown as http.OutgoingHttpHeaders,
      agent: tls ? this.tlsAgent : this.plainAgent,
      setHost: false,
    };
    const nodeReq = tls ? https.request(options) : http.request(options);
    req.sbNodeRequest = nodeReq;
    nodeReq.on('response', (nodeRes: IncomingMessage) => this.onNodeResponse(req, res, nodeRes));
    nodeReq.on('error', (err: ProxyError) => {
      if (req.sbNodeRequest === nodeReq) this.onForwardError(err, req, res, nodeReq.reusedSocket);
    });
    if (head.hasBody) {
      req.pipe(nodeReq);
    } else {
      nodeReq.end();
      // A body-less request still has to be read to its end for the client connection to be reused.
      if (!req.complete) req.resume();
    }
  }

  private onNodeResponse(req: BalancedRequest, res: ServerResponse, nodeRes: IncomingMessage): void {
    const status = nodeRes.statusCode ?? 502;
    this.stats.responsesByStatus.inc(status);
    const head = incomingResponseHead(nodeRes.rawHeaders);
    if (req.sbNode !== undefined) this.chooser?.observeResponse(req.sbNode, req.url ?? '/', status, head.setCookie);
    if (res.destroyed) {
      nodeRes.destroy();
      return;
    }
    res.writeHead(status, nodeRes.statusMessage, head.headers);
    nodeRes.pipe(res);
    nodeRes.on('error', () => res.destroy());
  }

  private onForwardError(err: ProxyError, req: BalancedRequest, res: ServerResponse, reusedConnection: boolean): void {
    const node = req.sbNode!;
    if (res.headersSent || res.writableEnded || res.destroyed) {
      res.destroy();
      return;
    }
    const kind = req.sbKind ?? 'http';
    const cookie = req.sbHead?.cookie ?? null;
    const retries = req.sbAttempts ?? 0;
    const failed = { node, code: err.code, reusedConnection, method: req.method, hasBody: req.sbHead?.hasBody !== false, retries };
    const next = nodeAfterFailure(failed, this.failures, this.chooser, (exclude) => this.chooser!.choose(req, kind, exclude, cookie));
    if (next !== undefined) {
      req.sbAttempts = retries + 1;
      this.ctx.log.debug({ err: err.message, node: node.id, next: next.node.id }, 'HTTP backend failed, trying another node');
      this.forward(req, res, next);
      return;
    }
    this.ctx.log.warn({ err: err.message, code: err.code, node: node.toString() }, 'HTTP request to node failed');
    this.reply(res, BAD_GATEWAY);
  }

  /** Responses that came through http-proxy-3 (unavailableHost, WebSocket handshakes a node refused). */
  private onProxyResponse(proxyRes: IncomingMessage, req: BalancedRequest): void {
    this.stats.responsesByStatus.inc(proxyRes.statusCode ?? 0);
    const headers = proxyRes.headers;
    if (hasHopByHop(headers)) stripHopByHop(headers);
    if (req.sbNode !== undefined) this.chooser?.observeResponse(req.sbNode, req.url ?? '/', proxyRes.statusCode ?? 0, headers['set-cookie']);
  }

  private noNode(req: BalancedRequest, res: ServerResponse): void {
    this.stats.noNode++;
    if (this.unavailable !== undefined) {
      stripHopByHop(req.headers);
      addForwardedHeaders(req.headers, req.socket.remoteAddress, req.sbEncrypted === true);
      this.proxy.web(req, res, { target: `http://${this.unavailable.host}:${this.unavailable.port}`, agent: this.plainAgent }, (err) => {
        this.ctx.log.warn({ err: (err as Error).message }, `unavailableHost ${this.ctx.config.http.unavailableHost} did not answer`);
        if (!res.headersSent) this.reply(res, UNAVAILABLE_HOST_FAILED);
        else res.destroy();
      });
      return;
    }
    this.reply(res, serviceUnavailable(this.ctx.config.sip.retryAfterSeconds));
  }

  private redirectToHttps(req: IncomingMessage, res: ServerResponse, httpsPort: number): void {
    // 301 for GET/HEAD (cacheable, as browsers expect); 308 keeps the method and body of other requests.
    const status = req.method === 'GET' || req.method === 'HEAD' ? 301 : 308;
    const location = redirectLocation(req.headers.host, this.ctx.config.http.host, httpsPort, req.url ?? '/');
    this.reply(res, { status, reason: status === 301 ? 'Moved Permanently' : 'Permanent Redirect', body: `Moved to ${location}\n`, headers: { location } });
  }

  private reply(res: ServerResponse, reply: OwnReply): void {
    this.stats.responsesByStatus.inc(reply.status);
    res.writeHead(reply.status, reply.reason, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(reply.body), ...reply.headers });
    res.end(res.req.method === 'HEAD' ? undefined : reply.body);
  }

  private onUpgrade(req: BalancedRequest, socket: Duplex, head: Buffer, encrypted: boolean): void {
    const stats = this.stats;
    stats.requests++;
    stats.requestsByMethod.inc(req.method ?? 'UNKNOWN');
    socket.on('error', () => socket.destroy());
    const cfg = this.ctx.config.http;
    if (!encrypted && cfg.httpsRedirect && this.httpsPort !== undefined) {
      const location = redirectLocation(req.headers.host, cfg.host, this.httpsPort, req.url ?? '/').replace('https://', 'wss://');
      stats.responsesByStatus.inc(301);
      socket.end(`HTTP/1.1 301 Moved Permanently\r\nLocation: ${location}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    stripHopByHop(req.headers, true);
    addForwardedHeaders(req.headers, req.socket.remoteAddress, encrypted);
    const kind = this.upgradeKind(req, encrypted);
    const choice = this.chooser!.choose(req, kind);
    let target: URL | string;
    if (choice === undefined) {
      stats.noNode++;
      if (this.unavailable === undefined) {
        const reply = serviceUnavailable(this.ctx.config.sip.retryAfterSeconds);
        stats.responsesByStatus.inc(reply.status);
        socket.end(rawReply(reply, { close: true }));
        return;
      }
      target = `http://${this.unavailable.host}:${this.unavailable.port}`;
    } else {
      req.sbNode = choice.node;
      const tls = kind === 'wss' || kind === 'https';
      target = this.target(choice.node, tls ? 'https:' : 'http:', choice.port);
    }
    stats.webSocketUpgrades++;
    const tlsTarget = typeof target !== 'string' && target.protocol === 'https:';
    // http-proxy-3 builds the node request on top of `ssl` (and mutates it): a fresh copy per upgrade.
    const tlsOptions = tlsTarget ? { ssl: { ...clientTlsOptions(this.ctx.config.tls) }, secure: !this.ctx.config.tls.skipServerVerification } : {};
    this.proxy.ws(req, socket, head, { target, agent: false, ...tlsOptions }, (err: Error) => {
      stats.backendErrors++;
      this.ctx.log.warn({ err: (err as Error).message, node: choice?.node.toString() }, 'WebSocket upgrade to node failed');
      if (socket.writable) socket.end(rawReply(BAD_GATEWAY, { close: true }));
      else socket.destroy();
    });
  }

  /** `sip` WebSocket subprotocol → the node's WebSocket connector; anything else → its HTTP port. */
  private upgradeKind(req: IncomingMessage, encrypted: boolean): BackendKind {
    const protocols = req.headers['sec-websocket-protocol'];
    const remoteTls = encrypted && this.ctx.config.http.isRemoteServerSsl;
    if (protocols !== undefined && offersSip(protocols)) return remoteTls ? 'wss' : 'ws';
    return remoteTls ? 'https' : 'http';
  }

  private target(node: ServerNode, protocol: 'http:' | 'https:', port: number): URL {
    let perNode = this.targets.get(node);
    if (perNode === undefined) {
      perNode = new Map();
      this.targets.set(node, perNode);
    }
    // Negative keys for TLS targets: one map, no string building per request.
    const key = protocol === 'https:' ? -port : port;
    let url = perNode.get(key);
    if (url === undefined) {
      const host = node.ip.includes(':') ? `[${node.ip}]` : node.ip;
      url = new URL(`${protocol}//${host}:${port}`);
      perNode.set(key, url);
    }
    return url;
  }
}

/** True when a Sec-WebSocket-Protocol list offers `sip`. */
export function offersSip(protocols: string): boolean {
  for (const p of protocols.split(',')) if (p.trim().toLowerCase() === 'sip') return true;
  return false;
}

function destroyQuietly(target: unknown): void {
  if (target !== null && typeof target === 'object' && 'destroy' in target && typeof target.destroy === 'function') (target as { destroy(): void }).destroy();
}

/** unavailableHost as host and port (80 when none), or undefined when not set. */
function unavailableTarget(value: string | undefined): { host: string; port: number } | undefined {
  return value !== undefined && value !== '' ? parseHostPort(value, 80) : undefined;
}
