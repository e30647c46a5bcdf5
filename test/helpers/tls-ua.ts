// A small SIP endpoint for end-to-end tests over UDP, TCP, TLS or WS (node:dgram, node:net, node:tls, the ws
// package and the project's framer): a node that answers like a UAS and can hang up, or a client that places a call and
// follows the route set. Also registers nodes with the balancer's JSON heartbeat.

import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { createServer as netServer, connect as netConnect, isIPv6, type Server, type Socket } from 'node:net';
import { createServer as tlsServer, connect as tlsConnect, type ConnectionOptions, type TlsOptions } from 'node:tls';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { parseDatagram, type SipMessage } from '../../src/sip/message.js';
import { StreamFramer } from '../../src/sip/stream-framer.js';
import { headerParam, parseUri, uriOfNameAddr } from '../../src/sip/uri.js';

export type PeerTransport = 'udp' | 'tcp' | 'tls' | 'ws';

export interface Received {
  readonly msg: SipMessage;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Sends on the way this message came: the same connection, or to its source for UDP. */
  readonly reply: (data: string | Buffer) => void;
}

export interface PeerOptions {
  readonly transport: PeerTransport;
  /** Local address (default 127.0.0.1). */
  readonly host?: string;
  /** Listen on this port (0: any) as a server; without it a TCP/TLS peer only connects out. */
  readonly listenPort?: number;
  /** TLS: server identity (cert/key) and, for clients, ca / cert / key / rejectUnauthorized. */
  readonly tls?: TlsOptions & ConnectionOptions;
  /** Answer requests like a UAS: INVITE 200 with SDP, BYE/REGISTER/OPTIONS/CANCEL 200; ACK nothing. */
  readonly autoAnswer?: boolean;
  /** The user part of our Contact. */
  readonly user?: string;
}

export const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n';

export function newToken(): string {
  return randomBytes(6).toString('hex');
}

function hostOf(host: string): string {
  return isIPv6(host) ? `[${host}]` : host;
}

/** A SIP endpoint bound to one transport. */
export class SipPeer {
  readonly transport: PeerTransport;
  readonly host: string;
  readonly user: string;
  readonly received: Received[] = [];
  private readonly opts: PeerOptions;
  private udp: DgramSocket | undefined;
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly websockets = new Set<WebSocket>();
  private readonly sockets = new Set<Socket>();
  /** The outgoing connection of a client peer. */
  private conn: Socket | undefined;
  private waiters: { test: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];
  port = 0;

  private constructor(opts: PeerOptions) {
    this.opts = opts;
    this.transport = opts.transport;
    this.host = opts.host ?? '127.0.0.1';
    this.user = opts.user ?? 'node';
  }

  static async start(opts: PeerOptions): Promise<SipPeer> {
    const p = new SipPeer(opts);
    await p.open();
    return p;
  }

  private async open(): Promise<void> {
    if (this.transport === 'udp') {
      const s = createSocket(isIPv6(this.host) ? 'udp6' : 'udp4');
      this.udp = s;
      s.on('message', (buf, rinfo) => {
        const r = parseDatagram(buf);
        if (r.kind === 'message') this.deliver(r.message, rinfo.address, rinfo.port, (d) => s.send(toBuf(d), rinfo.port, rinfo.address));
      });
      await new Promise<void>((resolve) => s.bind(this.opts.listenPort ?? 0, this.host, resolve));
      this.port = s.address().port;
      return;
    }
    if (this.opts.listenPort === undefined) return;
    if (this.transport === 'ws') {
      // A node's SIP WebSocket port (RFC 7118): one message per WebSocket message.
      const wss = new WebSocketServer({ host: this.host, port: this.opts.listenPort, handleProtocols: (p) => (p.has('sip') ? 'sip' : false) });
      this.wss = wss;
      wss.on('connection', (ws, req) => {
        this.websockets.add(ws);
        ws.on('close', () => this.websockets.delete(ws));
        ws.on('message', (data: Buffer) => {
          const r = parseDatagram(data);
          if (r.kind === 'message') this.deliver(r.message, req.socket.remoteAddress ?? '', req.socket.remotePort ?? 0, (d) => ws.send(toBuf(d).toString('utf8')));
        });
      });
      await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
      this.port = (wss.address() as { port: number }).port;
      return;
    }
    const onSocket = (socket: Socket): void => this.adopt(socket);
    const server = this.transport === 'tls' ? tlsServer(this.opts.tls ?? {}, onSocket) : netServer(onSocket);
    this.server = server;
    await new Promise<void>((resolve) => server.listen(this.opts.listenPort, this.host, resolve));
    this.port = (server.address() as { port: number }).port;
  }

  private adopt(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const framer = new StreamFramer(65_536, {
      message: (msg) => this.deliver(msg, socket.remoteAddress ?? '', socket.remotePort ?? 0, (d) => socket.write(toBuf(d))),
      ping: () => socket.write('\r\n'),
      malformed: () => undefined,
      fatal: () => socket.destroy(),
    });
    socket.on('data', (c: Buffer) => framer.push(c));
  }

  /** Client peers (TCP/TLS): opens the one connection every message is sent on. */
  async connect(host: string, port: number): Promise<void> {
    const socket =
      this.transport === 'tls'
        ? tlsConnect({ host, port, localAddress: this.host, ...this.opts.tls } as ConnectionOptions)
        : netConnect({ host, port, localAddress: this.host });
    await new Promise<void>((resolve, reject) => {
      socket.once(this.transport === 'tls' ? 'secureConnect' : 'connect', resolve);
      socket.once('error', reject);
    });
    this.conn = socket;
    this.port = socket.localPort ?? 0;
    this.adopt(socket);
  }

  private deliver(msg: SipMessage, remoteAddress: string, remotePort: number, reply: (d: string | Buffer) => void): void {
    const r: Received = { msg, remoteAddress, remotePort, reply };
    this.received.push(r);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.waiters[i]!.test(r)) {
        this.waiters[i]!.resolve(r);
        this.waiters.splice(i, 1);
      }
    }
    if (this.opts.autoAnswer && msg.isRequest) this.answer(r);
  }

  /** Resolves with the first message (past or future) that matches, or rejects after timeoutMs. */
  waitFor(test: (m: SipMessage) => boolean, timeoutMs = 5000, what = 'a SIP message'): Promise<Received> {
    const found = this.received.find((r) => test(r.msg));
    if (found) return Promise.resolve(found);
    return new Promise<Received>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.transport} peer :${this.port}: ${what} not received in ${timeoutMs} ms; got: ${this.received.map((x) => x.msg.firstLine).join(' | ')}`));
      }, timeoutMs);
      const waiter = { test: (r: Received) => test(r.msg), resolve: (r: Received) => { clearTimeout(timer); resolve(r); } };
      this.waiters.push(waiter);
    });
  }

  /** Sends on the client connection, or (UDP) to host:port. */
  send(data: string | Buffer, host?: string, port?: number): void {
    if (this.transport === 'udp') this.udp!.send(toBuf(data), port!, host!);
    else this.conn!.write(toBuf(data));
  }

  /** Our Contact header value. */
  contact(): string {
    return `<sip:${this.user}@${hostOf(this.host)}:${this.port};transport=${this.transport}>`;
  }

  /** The Via of a request we send. */
  via(branch = `z9hG4bK${newToken()}`): string {
    return `SIP/2.0/${this.transport.toUpperCase()} ${hostOf(this.host)}:${this.port};branch=${branch};rport`;
  }

  private answer(r: Received): void {
    const m = r.msg;
    if (m.method === 'ACK') return;
    if (m.method === 'INVITE') {
      r.reply(responseTo(m, 200, { contact: this.contact(), body: SDP, recordRoute: true }));
      return;
    }
    r.reply(responseTo(m, 200, { contact: m.method === 'REGISTER' ? m.header('contact') : undefined }));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    for (const ws of this.websockets) ws.terminate();
    if (this.wss) await new Promise<void>((resolve) => this.wss!.close(() => resolve()));
    this.conn?.destroy();
    if (this.udp) await new Promise<void>((resolve) => this.udp!.close(() => resolve()));
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

function toBuf(d: string | Buffer): Buffer {
  return typeof d === 'string' ? Buffer.from(d, 'utf8') : d;
}

const TO_TAG = newToken();

/** A response to `req`: its Vias, From, To (with our tag), Call-ID and CSeq; optionally Record-Route, Contact, SDP. */
export function responseTo(req: SipMessage, status: number, o: { reason?: string; contact?: string; body?: string; recordRoute?: boolean } = {}): string {
  const reason = o.reason ?? (status === 200 ? 'OK' : status === 180 ? 'Ringing' : 'Status');
  let s = `SIP/2.0 ${status} ${reason}\r\n`;
  for (const v of req.headerValues('via')) s += `Via: ${v}\r\n`;
  if (o.recordRoute) for (const rr of req.headerValues('record-route')) s += `Record-Route: ${rr}\r\n`;
  s += `From: ${req.from}\r\n`;
  const to = req.to;
  s += `To: ${headerParam(to, 'tag') === undefined && status > 100 ? `${to};tag=${TO_TAG}` : to}\r\n`;
  s += `Call-ID: ${req.callId}\r\n`;
  s += `CSeq: ${req.header('cseq')}\r\n`;
  if (o.contact) s += `Contact: ${o.contact}\r\n`;
  const body = o.body ?? '';
  if (body) s += 'Content-Type: application/sdp\r\n';
  s += `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  return s;
}

export interface RequestInit {
  readonly method: string;
  readonly ruri: string;
  readonly via: string;
  readonly from: string;
  readonly to: string;
  readonly callId: string;
  readonly cseq: number;
  readonly contact?: string;
  readonly routes?: readonly string[];
  readonly body?: string;
  readonly extra?: readonly string[];
}

export function buildRequest(r: RequestInit): string {
  let s = `${r.method} ${r.ruri} SIP/2.0\r\nVia: ${r.via}\r\nMax-Forwards: 70\r\n`;
  for (const route of r.routes ?? []) s += `Route: ${route}\r\n`;
  s += `From: ${r.from}\r\nTo: ${r.to}\r\nCall-ID: ${r.callId}\r\nCSeq: ${r.cseq} ${r.method}\r\n`;
  if (r.contact) s += `Contact: ${r.contact}\r\n`;
  for (const e of r.extra ?? []) s += `${e}\r\n`;
  const body = r.body ?? '';
  if (body) s += 'Content-Type: application/sdp\r\n';
  s += `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  return s;
}

/** The dialog state a UA needs to send in-dialog requests. */
export interface Dialog {
  readonly callId: string;
  readonly localUri: string;
  localTag: string;
  remote: string;
  remoteTarget: string;
  routes: string[];
  cseq: number;
}

/** The dialog of the UAC after a 2xx: route set = Record-Route reversed, remote target = Contact. */
export function uacDialog(invite: { callId: string; from: string; cseq: number }, ok: SipMessage): Dialog {
  return {
    callId: invite.callId,
    localUri: invite.from,
    localTag: headerParam(invite.from, 'tag') ?? '',
    remote: ok.to,
    remoteTarget: uriOfNameAddr(ok.header('contact') ?? ''),
    routes: ok.headerValues('record-route').reverse(),
    cseq: invite.cseq,
  };
}

/** The dialog of the UAS (a node) from the INVITE it answered: route set = Record-Route in order. */
export function uasDialog(invite: SipMessage): Dialog {
  return {
    callId: invite.callId,
    localUri: `${invite.to};tag=${TO_TAG}`,
    localTag: TO_TAG,
    remote: invite.from,
    remoteTarget: uriOfNameAddr(invite.header('contact') ?? ''),
    routes: invite.headerValues('record-route'),
    cseq: 1000,
  };
}

/** An in-dialog request (ACK uses the INVITE's CSeq number; others the next one). */
export function inDialog(d: Dialog, method: string, via: string): string {
  const cseq = method === 'ACK' ? d.cseq : ++d.cseq;
  return buildRequest({ method, ruri: d.remoteTarget, via, from: d.localUri, to: d.remote, callId: d.callId, cseq, routes: d.routes });
}

/** Where an in-dialog request goes first: the top Route's host and port (loose routing). */
export function firstHop(d: Dialog): { host: string; port: number } {
  const u = parseUri(uriOfNameAddr(d.routes[0] ?? `<${d.remoteTarget}>`))!;
  const host = u.host.startsWith('[') ? u.host.slice(1, -1) : u.host;
  return { host, port: u.port ?? 5060 };
}

export { lbstat, registerNode } from './json-heartbeat.js';
import { lbstat, registerNode } from './json-heartbeat.js';
import { waitUntil } from './wait.js';

/** Polls /lbstat until `ok` holds (or timeoutMs passes) and returns the last metrics. */
export async function lbstatUntil(statisticPort: number, ok: (m: Record<string, unknown>) => boolean, timeoutMs = 5000): Promise<Record<string, unknown>> {
  let m = await lbstat(statisticPort);
  await waitUntil(async () => ok((m = await lbstat(statisticPort))), 'an /lbstat that matches', timeoutMs).catch(() => undefined);
  return m;
}

/** Waits until the balancer counts `n` active nodes. */
export async function waitActiveNodes(statisticPort: number, n: number): Promise<void> {
  const m = await lbstatUntil(statisticPort, (x) => x.activeNodes === n);
  if (m.activeNodes !== n) throw new Error(`the balancer has ${String(m.activeNodes)} active nodes, expected ${n}`);
}

/** A node with UDP and TCP on one port number (answering every request), registered with the JSON heartbeat. */
export interface DualNode {
  readonly udp: SipPeer;
  readonly tcp: SipPeer;
  /** Stops its heartbeat and closes both peers. */
  close(): Promise<void>;
}

/** Starts a DualNode and waits until the balancer counts it active. */
export async function startDualNode(heartbeatPort: number, statisticPort: number, id: { hostName: string; sessionId: string }): Promise<DualNode> {
  const tcp = await SipPeer.start({ transport: 'tcp', listenPort: 0, autoAnswer: true });
  const udp = await SipPeer.start({ transport: 'udp', listenPort: tcp.port, autoAnswer: true });
  const stop = await registerNode(heartbeatPort, { ...id, ip: '127.0.0.1', udpPort: udp.port, tcpPort: tcp.port });
  await waitActiveNodes(statisticPort, 1);
  return {
    udp,
    tcp,
    close: async () => {
      stop();
      await udp.close();
      await tcp.close();
    },
  };
}
