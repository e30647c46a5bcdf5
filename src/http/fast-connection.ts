// The plain-HTTP/1.1 fast path: reads request heads off the client socket, chooses the node, and relays
// the request and the response bytes over a pooled keep-alive socket to the node, editing only the heads
// (hop-by-hop fields, X-Forwarded-*). Node's HTTP stack builds two message objects and two header maps per
// request; this path builds one string per head, which is what brings the balancer near HAProxy.
// Anything it does not handle (Upgrade, Expect, chunked uploads, HTTP/1.0, odd syntax, a request without node
// when unavailableHost is set) is handed, bytes and all, to the node:http server of the slow path, which then
// owns the connection. The connection's state changes only in transition() (fast-connection-state.ts).

import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { HttpStats } from './http-stats.js';
import type { HttpNodeChooser, NodeChoice } from './node-chooser.js';
import { ChunkedBodyEnd } from './chunked.js';
import { parseRequestHead, parseResponseHead, type RequestHead, type ResponseHead } from './http1-head.js';
import { incomingResponseHead, outgoingRequestHead } from './raw-headers.js';
import { algorithmView } from './algorithm-view.js';
import type { BackendLink, BackendOwner, BackendPool, NetError } from './backend-pool.js';
import { nodeAfterFailure, type FailureRules } from './backend-failure.js';
import { BAD_GATEWAY, rawReply, type OwnReply } from './replies.js';
import { nextFastState, type FastEvent, type FastState } from './fast-connection-state.js';

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_HEAD = 32 * 1024;
/** Pipelined bytes buffered while a request is in flight before the client is paused. */
const MAX_PENDING = 1024 * 1024;
const CLIENT_IDLE_MS = 5_000;
const EMPTY: Buffer = Buffer.alloc(0);

export interface FastPathContext {
  readonly chooser: () => HttpNodeChooser | undefined;
  readonly stats: HttpStats;
  readonly log: Logger;
  /** The retry rules the node:http path follows too. */
  readonly failures: FailureRules;
  /** The answer to a request no node can take; undefined when the node:http path answers it (unavailableHost). */
  readonly noNodeReply: () => OwnReply | undefined;
  /**
   * Gives the connection, with the bytes read but not consumed, to the node:http server. `noNode`: the first
   * request of those bytes was found to have no node (so node:http does not ask the algorithm again).
   */
  readonly handOff: (socket: Socket, unread: Buffer, noNode: boolean) => void;
}

/** One client connection on the fast path. */
export class FastConnection implements BackendOwner {
  private state: FastState = 'head';
  private pending: Buffer = EMPTY;
  private head: RequestHead | undefined;
  private headText = '';
  /** The request's Cookie field (null: none), for a retry's choice. */
  private cookie: string | null = null;
  private bodyLeft = 0;
  private choice: NodeChoice | undefined;
  private backend: BackendLink | undefined;
  private backendReused = false;
  private retries = 0;
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
    if (this.state === 'head') this.client.destroy();
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

  /** Where the connection is (for tests and diagnostics). */
  get currentState(): FastState {
    return this.state;
  }

  /** The one place the state changes. */
  private transition(event: FastEvent): void {
    const next = nextFastState(this.state, event);
    if (next === undefined) {
      // A bug, not the peer's doing: end the connection rather than relay out of step.
      this.ctx.log.error({ state: this.state, event }, 'HTTP fast path: impossible state transition; connection closed');
      this.state = 'closed';
      this.client.destroy();
      return;
    }
    this.state = next;
  }

  /**
   * The client half-closed. Between requests that ends the connection. Once a whole request has gone to the
   * node, its answer still goes out and then the connection closes (finishExchange): a client may send its
   * request and half-close at once (`socket.end(request)`), as HAProxy allows; half-close.ts closes a half-closed
   * connection that stays silent. A request whose head or body can no longer arrive is an abort: the node request
   * is closed.
   */
  private readonly onClientEnd = (): void => {
    this.clientEnded = true;
    if (this.state === 'response') return;
    if (this.state === 'head' && this.pending.length === 0) {
      this.transition('close');
      this.client.end();
      return;
    }
    this.clientClosed();
    this.client.destroy();
  };

  private clientData(chunk: Buffer): void {
    if (this.state === 'body') {
      const take = Math.min(this.bodyLeft, chunk.length);
      this.bodyLeft -= take;
      const part = take === chunk.length ? chunk : chunk.subarray(0, take);
      const backend = this.backend!.socket;
      if (!backend.write(part)) {
        this.client.pause();
        backend.once('drain', () => this.client.resume());
      }
      if (take < chunk.length) this.pending = chunk.subarray(take);
      if (this.bodyLeft === 0) this.transition('body-sent');
      return;
    }
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    if (this.state === 'head') this.nextRequest();
    else if (this.pending.length > MAX_PENDING) this.client.pause();
  }

  /** Takes the complete request heads from `pending` while the connection waits for one. */
  private nextRequest(): void {
    while (this.state === 'head' && this.pending.length > 0) {
      if (!this.takeRequest()) return;
    }
  }

  /**
   * Parses the next request head from `pending`, if complete, and sends it on. True when it was answered
   * here at once (no node), so that the next pipelined head may follow.
   */
  private takeRequest(): boolean {
    const buf = this.pending;
    const end = buf.indexOf(CRLFCRLF);
    if (end < 0) {
      if (buf.length > MAX_HEAD) this.handOff(false);
      return false;
    }
    const text = buf.toString('latin1', 0, end);
    const head = parseRequestHead(text);
    if (head === undefined) {
      this.handOff(false);
      return false;
    }
    const chooser = this.ctx.chooser();
    const out = outgoingRequestHead(head.rawHeaders, this.client.remoteAddress, false);
    const cookie = out.cookie ?? null;
    const choice = chooser?.choose(algorithmView(head, this.client), 'http', undefined, cookie);
    if (choice === undefined) return this.noNode(head, end);
    const stats = this.ctx.stats;
    stats.requests++;
    stats.requestsByMethod.inc(head.method);
    let headText = `${head.method} ${head.target} HTTP/1.1\r\n`;
    const h = out.headers;
    for (let i = 0; i < h.length; i += 2) headText += `${h[i]}: ${h[i + 1]}\r\n`;
    headText += '\r\n';
    this.head = head;
    this.headText = headText;
    this.cookie = cookie;
    this.retries = 0;
    const bodyStart = end + 4;
    const available = Math.min(head.contentLength, buf.length - bodyStart);
    const body = buf.subarray(bodyStart, bodyStart + available);
    this.pending = buf.subarray(bodyStart + available);
    if (this.pending.length === 0) this.pending = EMPTY;
    this.bodyLeft = head.contentLength - available;
    this.transition(this.bodyLeft > 0 ? 'request-with-body' : 'request');
    this.send(choice, body);
    return false;
  }

  /**
   * No node can take the request: the 503 answered here (the request is parsed and the algorithm asked once);
   * with unavailableHost, node:http proxies it there, told that there is no node. A request with a body ends the
   * connection rather than have its body read and thrown away.
   */
  private noNode(head: RequestHead, end: number): boolean {
    const reply = this.ctx.noNodeReply();
    if (reply === undefined) {
      this.handOff(true);
      return false;
    }
    const stats = this.ctx.stats;
    stats.requests++;
    stats.requestsByMethod.inc(head.method);
    stats.noNode++;
    stats.responsesByStatus.inc(reply.status);
    const isHead = head.method === 'HEAD';
    if (head.close || head.contentLength > 0 || this.clientEnded) {
      this.pending = EMPTY;
      this.transition('close');
      this.client.end(rawReply(reply, { close: true, head: isHead }), 'latin1');
      return false;
    }
    this.pending = this.pending.length === end + 4 ? EMPTY : this.pending.subarray(end + 4);
    this.client.write(rawReply(reply, { close: false, head: isHead }), 'latin1');
    this.transition('answered');
    return true;
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
      if (this.state !== 'response') return;
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
    if (reusable && !resp.close && this.state === 'response') this.pool.release(backend);
    else this.pool.drop(backend);
    const closeClient = this.clientEnded || this.head!.close || resp.close || this.respLeft === Number.POSITIVE_INFINITY || this.state === 'body';
    this.resp = undefined;
    this.head = undefined;
    if (closeClient) {
      this.transition('close');
      this.client.end();
      return;
    }
    this.transition('answered');
    if (this.client.isPaused()) this.client.resume();
    this.nextRequest();
  }

  private badResponse(reason: string): void {
    this.ctx.stats.backendErrors++;
    this.ctx.log.warn({ node: this.choice?.node.toString(), reason }, 'HTTP response from node not understood; connection closed');
    if (this.backend !== undefined) this.pool.drop(this.backend);
    this.backend = undefined;
    if (this.resp === undefined) this.replyAndClose(BAD_GATEWAY);
    else this.client.destroy();
  }

  backendFailed(link: BackendLink, err: NetError): void {
    const backend = this.backend;
    if (backend === undefined || link !== backend || this.state === 'closed') return;
    this.backend = undefined;
    this.pool.drop(backend);
    if (this.resp !== undefined || this.gotResponseBytes) {
      // Mid-response: the client cannot be told more than that the exchange broke.
      this.ctx.stats.backendErrors++;
      this.client.destroy();
      return;
    }
    const node = this.choice!.node;
    const head = this.head!;
    const chooser = this.ctx.chooser();
    const failed = { node, code: err.code, reusedConnection: this.backendReused, method: head.method, hasBody: head.contentLength > 0, retries: this.retries };
    const next = nodeAfterFailure(failed, this.ctx.failures, chooser, (exclude) => chooser?.choose(algorithmView(head, this.client), 'http', exclude, this.cookie));
    if (next !== undefined) {
      this.retries++;
      this.send(next, EMPTY);
      return;
    }
    this.ctx.log.warn({ err: err.message, code: err.code, node: node.toString() }, 'HTTP request to node failed');
    this.replyAndClose(BAD_GATEWAY);
  }

  private replyAndClose(reply: OwnReply): void {
    this.ctx.stats.responsesByStatus.inc(reply.status);
    const isHead = this.head?.method === 'HEAD';
    this.transition('close');
    this.client.end(rawReply(reply, { close: true, head: isHead }), 'latin1');
  }

  private clientClosed(): void {
    this.transition('close');
    // A client that goes away mid-exchange closes the node request (the node sees the close).
    const backend = this.backend;
    this.backend = undefined;
    if (backend !== undefined) this.pool.drop(backend);
  }

  /** Gives the connection to the node:http server, with every byte not consumed yet. */
  private handOff(noNode: boolean): void {
    const client = this.client;
    client.removeListener('data', this.onClientData);
    client.removeListener('close', this.onClientClose);
    client.removeListener('timeout', this.onClientTimeout);
    client.removeListener('end', this.onClientEnd);
    client.setTimeout(0);
    client.removeAllListeners('error');
    this.transition('close');
    const unread = this.pending;
    this.pending = EMPTY;
    this.ctx.handOff(client, unread, noNode);
  }
}
