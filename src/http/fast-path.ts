// The plain-HTTP/1.1 fast path: reads request heads off the client socket, chooses the node, and relays
// the request and the response bytes over a pooled keep-alive socket to the node, editing only the heads
// (hop-by-hop fields, X-Forwarded-*). Node's HTTP stack builds two message objects and two header maps per
// request; this path builds one string per head, which is what brings the balancer near HAProxy.
// Anything it does not handle (Upgrade, Expect, chunked uploads, HTTP/1.0, no node, odd syntax) is handed,
// bytes and all, to the node:http server of the slow path, which then owns the connection.

import net, { type Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../log.js';
import type { HttpStats } from './http-stats.js';
import type { ServerNode } from '../registry/server-node.js';
import type { HttpNodeChooser, NodeChoice } from './node-chooser.js';
import { ChunkedBodyEnd } from './chunked.js';
import { parseRequestHead, parseResponseHead, type RequestHead, type ResponseHead } from './http1-head.js';
import { incomingResponseHead, outgoingRequestHead } from './raw-headers.js';
import { isIdempotent } from './headers.js';
import { guardedInterval } from '../timers.js';

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_HEAD = 32 * 1024;
/** Pipelined bytes buffered while a request is in flight before the client is paused. */
const MAX_PENDING = 1024 * 1024;
const CLIENT_IDLE_MS = 5_000;
const BACKEND_IDLE_MS = 30_000;
const MAX_IDLE_PER_TARGET = 256;
const EMPTY: Buffer = Buffer.alloc(0);

type NetError = Error & { code?: string };

export interface FastPathContext {
  readonly chooser: () => HttpNodeChooser | undefined;
  readonly stats: HttpStats;
  readonly log: Logger;
  readonly maxRetries: number;
  readonly refusedForMs: number;
  /** Gives the connection, with the bytes read but not consumed, to the node:http server. */
  readonly handOff: (socket: Socket, unread: Buffer) => void;
}

/** Receives what happens on a node connection while it serves one exchange. */
export interface BackendOwner {
  backendData(link: BackendLink, chunk: Buffer): void;
  backendEnded(link: BackendLink): void;
  backendFailed(link: BackendLink, err: NetError): void;
}

/**
 * A keep-alive connection to a node with listeners set once; events go to the exchange that owns it, and
 * an idle connection that speaks or closes is dropped. No listener churn per request.
 */
export class BackendLink {
  owner: BackendOwner | undefined;
  idleSince = 0;
  constructor(readonly socket: Socket, readonly key: string, private readonly pool: BackendPool) {
    socket.on('data', (chunk: Buffer) => {
      if (this.owner) this.owner.backendData(this, chunk);
      else this.pool.drop(this); // bytes from an idle connection answer nothing: unusable
    });
    socket.on('end', () => {
      if (this.owner) this.owner.backendEnded(this);
      else this.pool.drop(this);
    });
    socket.on('error', (err: NetError) => {
      if (this.owner) this.owner.backendFailed(this, err);
      else this.pool.drop(this);
    });
    socket.on('close', () => {
      if (this.owner) this.owner.backendFailed(this, Object.assign(new Error('node closed the connection'), { code: 'ECONNRESET' }));
      else this.pool.drop(this);
    });
  }
}

/** Idle keep-alive connections to nodes, most recently used first; one coarse timer closes stale ones. */
export class BackendPool {
  private readonly idle = new Map<string, BackendLink[]>();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor() {
    this.sweepTimer = guardedInterval('HTTP backend pool sweep', BACKEND_IDLE_MS / 2, () => this.sweep());
  }

  acquire(host: string, port: number, owner: BackendOwner): { link: BackendLink; reused: boolean } {
    const key = `${host}:${port}`;
    const list = this.idle.get(key);
    while (list !== undefined && list.length > 0) {
      const link = list.pop()!;
      if (!link.socket.destroyed) {
        link.owner = owner;
        return { link, reused: true };
      }
    }
    const link = new BackendLink(net.connect({ host, port, noDelay: true }), key, this);
    link.owner = owner;
    return { link, reused: false };
  }

  release(link: BackendLink): void {
    link.owner = undefined;
    let list = this.idle.get(link.key);
    if (list === undefined) {
      list = [];
      this.idle.set(link.key, list);
    }
    if (list.length >= MAX_IDLE_PER_TARGET || link.socket.destroyed) {
      link.socket.destroy();
      return;
    }
    link.idleSince = Date.now();
    list.push(link);
  }

  drop(link: BackendLink): void {
    link.owner = undefined;
    const list = this.idle.get(link.key);
    const at = list === undefined ? -1 : list.indexOf(link);
    if (at >= 0) list!.splice(at, 1);
    link.socket.destroy();
  }

  private sweep(): void {
    const limit = Date.now() - BACKEND_IDLE_MS;
    for (const list of this.idle.values()) {
      // Oldest first: the list is used from its end.
      while (list.length > 0 && list[0]!.idleSince < limit) list.shift()!.socket.destroy();
    }
  }

  destroy(): void {
    clearInterval(this.sweepTimer);
    for (const list of this.idle.values()) for (const link of list) link.socket.destroy();
    this.idle.clear();
  }
}

/** What the algorithm sees of a fast-path request: the IncomingMessage fields it may read, headers built on demand. */
class AlgorithmView {
  private headersCache: Record<string, string> | undefined;
  readonly httpVersion = '1.1';
  constructor(private readonly head: RequestHead, readonly socket: Socket) {}
  get method(): string {
    return this.head.method;
  }
  get url(): string {
    return this.head.target;
  }
  get rawHeaders(): string[] {
    return this.head.rawHeaders;
  }
  get headers(): Record<string, string> {
    if (this.headersCache === undefined) {
      const h: Record<string, string> = {};
      const raw = this.head.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        const k = raw[i]!.toLowerCase();
        h[k] = h[k] === undefined ? raw[i + 1]! : `${h[k]}, ${raw[i + 1]!}`;
      }
      this.headersCache = h;
    }
    return this.headersCache;
  }
}

function algorithmView(head: RequestHead, socket: Socket): IncomingMessage {
  return new AlgorithmView(head, socket) as unknown as IncomingMessage;
}

const enum State {
  /** Waiting for (or parsing) the next request head. */
  Head,
  /** Relaying the request body to the node. */
  Body,
  /** Request sent; waiting for or relaying the response. */
  Response,
  Closed,
}

/** One client connection on the fast path. */
export class FastConnection implements BackendOwner {
  private state = State.Head;
  private pending: Buffer = EMPTY;
  private head: RequestHead | undefined;
  private headText = '';
  private bodyLeft = 0;
  private choice: NodeChoice | undefined;
  private backend: BackendLink | undefined;
  private backendReused = false;
  private attempts = 0;
  /** Response parsing. */
  private respHead: Buffer = EMPTY;
  private resp: ResponseHead | undefined;
  private respLeft = 0;
  private chunked: ChunkedBodyEnd | undefined;
  private gotResponseBytes = false;
  /** The client half-closed its side: answer what is in flight, then close. */
  private clientEnded = false;
  private readonly onClientData = (chunk: Buffer): void => this.clientData(chunk);
  private readonly onClientClose = (): void => this.clientClosed();
  /** Idle between requests, or a head that stopped arriving: close (a slow node answer is not timed out). */
  private readonly onClientTimeout = (): void => {
    if (this.state === State.Head) this.client.destroy();
  };

  constructor(private readonly client: Socket, private readonly ctx: FastPathContext, private readonly pool: BackendPool) {
    client.setNoDelay(true);
    client.setTimeout(CLIENT_IDLE_MS);
    client.on('data', this.onClientData);
    client.on('close', this.onClientClose);
    client.on('error', () => client.destroy());
    client.on('timeout', this.onClientTimeout);
    client.on('end', this.onClientEnd);
  }

  /**
   * The client half-closed. Between requests that ends the connection; during an exchange it is taken as
   * an abort, as Node's HTTP server does (httpAllowHalfOpen false): the node request is closed.
   */
  private readonly onClientEnd = (): void => {
    this.clientEnded = true;
    if (this.state === State.Head && this.pending.length === 0) {
      this.state = State.Closed;
      this.client.end();
      return;
    }
    this.clientClosed();
    this.client.destroy();
  };

  private clientData(chunk: Buffer): void {
    if (this.state === State.Body) {
      const take = Math.min(this.bodyLeft, chunk.length);
      this.bodyLeft -= take;
      const part = take === chunk.length ? chunk : chunk.subarray(0, take);
      const backend = this.backend!.socket;
      if (!backend.write(part)) {
        this.client.pause();
        backend.once('drain', () => this.client.resume());
      }
      if (take < chunk.length) this.pending = chunk.subarray(take);
      if (this.bodyLeft === 0) this.state = State.Response;
      return;
    }
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    if (this.state === State.Head) this.nextRequest();
    else if (this.pending.length > MAX_PENDING) this.client.pause();
  }

  /** Parses the next request head from `pending`, if complete, and sends it on. */
  private nextRequest(): void {
    const buf = this.pending;
    if (buf.length === 0) return;
    const end = buf.indexOf(CRLFCRLF);
    if (end < 0) {
      if (buf.length > MAX_HEAD) this.handOff();
      return;
    }
    const text = buf.toString('latin1', 0, end);
    const head = parseRequestHead(text);
    if (head === undefined) {
      this.handOff();
      return;
    }
    const chooser = this.ctx.chooser();
    const out = outgoingRequestHead(head.rawHeaders, this.client.remoteAddress, false);
    const choice = chooser?.choose(algorithmView(head, this.client), 'http', undefined, out.cookie ?? null);
    if (choice === undefined) {
      // No node: the slow path answers (503 with Retry-After, or unavailableHost) and counts it.
      this.handOff();
      return;
    }
    const stats = this.ctx.stats;
    stats.requests++;
    stats.requestsByMethod.inc(head.method);
    let headText = `${head.method} ${head.target} HTTP/1.1\r\n`;
    const h = out.headers;
    for (let i = 0; i < h.length; i += 2) headText += `${h[i]}: ${h[i + 1]}\r\n`;
    headText += '\r\n';
    this.head = head;
    this.headText = headText;
    this.attempts = 0;
    const bodyStart = end + 4;
    const available = Math.min(head.contentLength, buf.length - bodyStart);
    const body = buf.subarray(bodyStart, bodyStart + available);
    this.pending = buf.subarray(bodyStart + available);
    if (this.pending.length === 0) this.pending = EMPTY;
    this.bodyLeft = head.contentLength - available;
    this.state = this.bodyLeft > 0 ? State.Body : State.Response;
    this.send(choice, body);
  }

  /** Writes the request head (and the body bytes at hand) to a connection to the chosen node. */
  private send(choice: NodeChoice, body: Buffer): void {
    this.choice = choice;
    const { link, reused } = this.pool.acquire(choice.node.ip, choice.port, this);
    const socket = link.socket;
    this.backend = link;
    this.backendReused = reused;
    this.gotResponseBytes = false;
    this.respHead = EMPTY;
    this.resp = undefined;
    this.chunked = undefined;
    socket.cork();
    socket.write(this.headText, 'latin1');
    if (body.length > 0) socket.write(body);
    socket.uncork();
  }

  backendData(link: BackendLink, chunk: Buffer): void {
    if (link !== this.backend) return;
    // One write to the client per piece from the node: the response head and the body bytes go together.
    const client = this.client;
    client.cork();
    try {
      this.relayResponse(chunk);
    } finally {
      client.uncork();
    }
  }

  private relayResponse(chunk: Buffer): void {
    this.gotResponseBytes = true;
    let data = chunk;
    while (data.length > 0) {
      if (this.resp === undefined) {
        const buf = this.respHead.length === 0 ? data : Buffer.concat([this.respHead, data]);
        const end = buf.indexOf(CRLFCRLF);
        if (end < 0) {
          if (buf.length > MAX_HEAD) return this.badResponse('response head too large');
          this.respHead = buf;
          return;
        }
        const resp = parseResponseHead(buf.toString('latin1', 0, end));
        if (resp === undefined) return this.badResponse('response head not understood');
        this.respHead = EMPTY;
        data = buf.subarray(end + 4);
        if (!this.startResponse(resp)) continue; // an interim 1xx: parse the next head
      }
      data = this.relayBody(data);
      if (this.state !== State.Response) return;
    }
  }

  /** Sends the response head to the client; false for an interim (1xx) response, true otherwise. */
  private startResponse(resp: ResponseHead): boolean {
    const stats = this.ctx.stats;
    const out = incomingResponseHead(resp.rawHeaders);
    if (resp.status < 200) {
      // 100/103 interim answers go to the client as they are; the final one follows.
      let text = `HTTP/1.1 ${resp.status} ${resp.reason}\r\n`;
      for (let i = 0; i < out.headers.length; i += 2) text += `${out.headers[i]}: ${out.headers[i + 1]}\r\n`;
      this.client.write(text + '\r\n', 'latin1');
      return false;
    }
    stats.responsesByStatus.inc(resp.status);
    this.ctx.chooser()?.observeResponse(this.choice!.node, this.head!.target, resp.status, out.setCookie);
    const noBody = this.head!.method === 'HEAD' || resp.status === 204 || resp.status === 304;
    let untilClose = false;
    if (noBody) {
      this.respLeft = 0;
    } else if (resp.chunked) {
      this.chunked = new ChunkedBodyEnd();
    } else if (resp.contentLength >= 0) {
      this.respLeft = resp.contentLength;
    } else {
      untilClose = true;
      this.respLeft = Number.POSITIVE_INFINITY;
    }
    this.resp = resp;
    // The node's framing is relayed untouched, so Transfer-Encoding: chunked stays.
    let text = `HTTP/1.1 ${resp.status} ${resp.reason}\r\n`;
    const h = out.headers;
    for (let i = 0; i < h.length; i += 2) text += `${h[i]}: ${h[i + 1]}\r\n`;
    if (resp.chunked) text += 'Transfer-Encoding: chunked\r\n';
    if (this.head!.close || untilClose) text += 'Connection: close\r\n';
    this.client.write(text + '\r\n', 'latin1');
    return true;
  }

  /** Relays body bytes of the current response; returns bytes beyond its end (unexpected from a node). */
  private relayBody(data: Buffer): Buffer {
    let body = data;
    let rest = EMPTY;
    let finished = false;
    if (this.chunked !== undefined) {
      let end: number;
      try {
        end = this.chunked.scan(data);
      } catch (err) {
        this.badResponse((err as Error).message);
        return EMPTY;
      }
      if (end >= 0) {
        body = data.subarray(0, end);
        rest = data.subarray(end);
        finished = true;
      }
    } else {
      if (data.length >= this.respLeft) {
        body = data.subarray(0, this.respLeft);
        rest = data.subarray(this.respLeft);
        this.respLeft = 0;
        finished = true;
      } else {
        this.respLeft -= data.length;
      }
    }
    if (body.length > 0 && !this.client.write(body)) {
      const backend = this.backend!.socket;
      backend.pause();
      this.client.once('drain', () => backend.resume());
    }
    if (finished) this.finishExchange(rest.length === 0);
    return EMPTY;
  }

  backendEnded(link: BackendLink): void {
    if (link !== this.backend) return;
    if (this.resp !== undefined && this.respLeft === Number.POSITIVE_INFINITY) {
      // A response delimited by the close of the connection.
      this.respLeft = 0;
      this.finishExchange(false);
      return;
    }
    this.backendFailed(link, Object.assign(new Error('node closed the connection'), { code: 'ECONNRESET' }));
  }

  private finishExchange(reusable: boolean): void {
    const backend = this.backend!;
    const resp = this.resp!;
    this.backend = undefined;
    backend.socket.resume();
    if (reusable && !resp.close && this.state === State.Response) this.pool.release(backend);
    else this.pool.drop(backend);
    const closeClient = this.clientEnded || this.head!.close || resp.close || this.respLeft === Number.POSITIVE_INFINITY || this.state === State.Body;
    this.resp = undefined;
    this.head = undefined;
    if (closeClient) {
      this.state = State.Closed;
      this.client.end();
      return;
    }
    this.state = State.Head;
    if (this.client.isPaused()) this.client.resume();
    this.nextRequest();
  }

  private badResponse(reason: string): void {
    this.ctx.stats.backendErrors++;
    this.ctx.log.warn({ node: this.choice?.node.toString(), reason }, 'HTTP response from node not understood; connection closed');
    if (this.backend !== undefined) this.pool.drop(this.backend);
    this.backend = undefined;
    if (this.resp === undefined) this.replyAndClose(502, 'Bad Gateway');
    else this.client.destroy();
  }

  backendFailed(link: BackendLink, err: NetError): void {
    const backend = this.backend;
    if (backend === undefined || link !== backend || this.state === State.Closed) return;
    this.backend = undefined;
    this.pool.drop(backend);
    if (this.resp !== undefined || this.gotResponseBytes) {
      // Mid-response: the client cannot be told more than that the exchange broke.
      this.ctx.stats.backendErrors++;
      this.client.destroy();
      return;
    }
    const code = err.code;
    const node = this.choice!.node;
    const stale = this.backendReused && code === 'ECONNRESET';
    if (!stale) this.ctx.stats.backendErrors++;
    if (code === 'ECONNREFUSED') this.ctx.chooser()?.markRefused(node, this.ctx.refusedForMs);
    const head = this.head!;
    // Nothing was answered: a repeatable request without body goes to the next node (or again, for a
    // kept-alive connection the node had closed meanwhile).
    if (head.contentLength === 0 && isIdempotent(head.method) && this.attempts < this.ctx.maxRetries + (stale ? 1 : 0)) {
      this.attempts++;
      const chooser = this.ctx.chooser();
      const view = algorithmView(head, this.client);
      const next = stale ? chooser?.choose(view, 'http') : chooser?.choose(view, 'http', node);
      if (next !== undefined) {
        this.send(next, EMPTY);
        return;
      }
    }
    this.ctx.log.warn({ err: err.message, code, node: node.toString() }, 'HTTP request to node failed');
    this.replyAndClose(502, 'Bad Gateway');
  }

  private replyAndClose(status: number, reason: string): void {
    const body = 'The application server did not answer.\n';
    this.ctx.stats.responsesByStatus.inc(status);
    this.state = State.Closed;
    this.client.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
  }

  private clientClosed(): void {
    this.state = State.Closed;
    // A client that goes away mid-exchange closes the node request (the node sees the close).
    const backend = this.backend;
    this.backend = undefined;
    if (backend !== undefined) this.pool.drop(backend);
  }

  /** Gives the connection to the node:http server, with every byte not consumed yet. */
  private handOff(): void {
    const client = this.client;
    client.removeListener('data', this.onClientData);
    client.removeListener('close', this.onClientClose);
    client.removeListener('timeout', this.onClientTimeout);
    client.removeListener('end', this.onClientEnd);
    client.setTimeout(0);
    client.removeAllListeners('error');
    this.state = State.Closed;
    const unread = this.pending;
    this.pending = EMPTY;
    this.ctx.handOff(client, unread);
  }
}

/** The node a fast-path connection is talking to, for logs. */
export function describeNode(node: ServerNode | undefined): string {
  return node === undefined ? '-' : node.toString();
}
