// A balancer with workers=N for end-to-end tests, plain UDP "nodes" that record the requests they get,
// and raw INVITE/CANCEL requests: what the workers tests need beside the shared SIP helpers.

import { createSocket, type Socket } from 'node:dgram';
import { connect as netConnect, type Socket as NetSocket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { startDaemon, type Daemon } from './daemon.js';
import { sipPorts, type SipPorts } from './sip-balancer.js';
import { freePorts } from './ports.js';
import { lbstat } from './json-heartbeat.js';
import { startSipp, type Sipp } from './sipp.js';
import { startHeartbeat, type HeartbeatSender } from './sip-heartbeat.js';
import { waitUntil } from './wait.js';

export const HOST = '127.0.0.1';

export interface WorkersBalancer extends SipPorts {
  daemon: Daemon;
  /** The workers' process ids at start (from the "Load balancer started" line). */
  workerPids: number[];
}

/** Starts the daemon with `workers` processes; start-up waits for every worker (slow on a loaded machine). */
export async function startWorkersBalancer(workers: number, extra: Record<string, string | number | boolean> = {}): Promise<WorkersBalancer> {
  // With SO_REUSEPORT every worker binds a socket of its own, and the daemon refuses to let each pick a port of its
  // own (it falls back to the cluster's sockets): the one case where the test picks the SIP ports.
  const [externalPort, internalPort] = extra.workersPortSharing === 'reuseport' ? await freePorts(2) : [0, 0];
  const daemon = await startDaemon({
    properties: {
      host: HOST,
      externalPort: externalPort!,
      internalPort: internalPort!,
      heartbeatPort: 0,
      statisticPort: 0,
      httpPort: '',
      nodeTimeout: 3000,
      heartbeatInterval: 100,
      workers,
      ...extra,
    },
    readyTimeoutMs: 60_000,
  });
  const started = await daemon.waitForLog('Load balancer started');
  // The primary reports the ports the workers share (port 0: the cluster gives every worker the same one).
  return {
    daemon,
    ...sipPorts(daemon),
    workerPids: started.workers as number[],
  };
}

/** workers=2 with two sipp UAS nodes that heartbeat to it, once every worker knows both. */
export async function startWorkersWithSippNodes(opts: { traceMessages: boolean }): Promise<{ lb: WorkersBalancer; uas: Sipp[]; heartbeats: HeartbeatSender[] }> {
  const lb = await startWorkersBalancer(2);
  const ports = await freePorts(2);
  const uas = await Promise.all(ports.map((port) => startSipp({ scenario: 'uas.xml', localPort: port, traceMessages: opts.traceMessages, timeoutMs: 120_000 })));
  const heartbeats = await Promise.all(ports.map((port) => startHeartbeat({ balancerPort: lb.internalPort, node: { udpPort: port, tcpPort: port }, intervalMs: 500 })));
  await waitUntil(async () => (await daemonLbstat(lb.statisticPort)).Workers.each.every((w) => w.knownNodes === 2), 'both nodes in every worker');
  return { lb, uas, heartbeats };
}

export interface WorkerShare {
  index: number;
  pid: number;
  restarts: number;
  knownNodes: number;
  NumberOfRequestsProcessed: number;
}

/** /lbstat's Metrics, with the per-worker block typed. */
export async function daemonLbstat(statisticPort: number): Promise<Record<string, unknown> & { Workers: { configured: number; serving: number; reporting: number; restarts: number; each: WorkerShare[] } }> {
  return (await lbstat(statisticPort)) as Awaited<ReturnType<typeof daemonLbstat>>;
}


/** A UDP socket standing in for an application server: it records each request's method and Call-ID. */
export interface RecordingNode {
  readonly port: number;
  readonly received: { method: string; callId: string }[];
  close(): Promise<void>;
}

export async function startRecordingNode(): Promise<RecordingNode> {
  const socket = createSocket('udp4');
  const received: { method: string; callId: string }[] = [];
  socket.on('message', (data) => {
    const text = data.toString('latin1');
    const method = /^([A-Z]+) /.exec(text)?.[1];
    const callId = /\r\n(?:Call-ID|i):\s*([^\r\n]+)/i.exec(text)?.[1]?.trim();
    if (method && callId) received.push({ method, callId });
  });
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  return { port: socket.address().port, received, close: () => new Promise<void>((r) => socket.close(() => r())) };
}

/** A caller's UDP socket on its own port (each one may be served by another worker). */
export async function callerSocket(): Promise<Socket> {
  const socket = createSocket('udp4');
  socket.on('message', () => undefined);
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  return socket;
}

/** An INVITE, or its CANCEL (same branch, Call-ID, CSeq number), sent from `fromPort`. */
export function inviteOrCancel(method: 'INVITE' | 'CANCEL', opts: { callId: string; branch: string; fromPort: number; balancerPort: number }): Buffer {
  const lines = [
    `${method} sip:service@${HOST}:${opts.balancerPort} SIP/2.0`,
    `Via: SIP/2.0/UDP ${HOST}:${opts.fromPort};branch=${opts.branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:caller@${HOST}>;tag=${opts.branch.slice(-8)}`,
    `To: <sip:service@${HOST}>`,
    `Call-ID: ${opts.callId}`,
    `CSeq: 1 ${method}`,
    `Contact: <sip:caller@${HOST}:${opts.fromPort}>`,
    'Content-Length: 0',
    '',
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

export function newCallId(): string {
  return `${randomBytes(8).toString('hex')}@workers-test`;
}

export function newBranch(): string {
  return `z9hG4bK${randomBytes(6).toString('hex')}`;
}

export function send(socket: Socket, data: Buffer, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => socket.send(data, port, HOST, (err) => (err ? reject(err) : resolve())));
}

/** True when the process `pid` exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A SIP peer on a TCP connection: every framed message it reads (messages here carry no body). */
export interface StreamPeer {
  readonly socket: NetSocket;
  readonly localPort: number;
  readonly messages: string[];
  write(text: string): void;
  close(): void;
}

/** Connects to host:port and frames what arrives into SIP messages (header block plus Content-Length). */
export async function connectStreamPeer(port: number, onMessage: (text: string, peer: StreamPeer) => void = () => undefined): Promise<StreamPeer> {
  const socket = netConnect({ host: HOST, port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  const peer: StreamPeer = {
    socket,
    localPort: socket.localPort!,
    messages: [],
    write: (text) => socket.write(text),
    close: () => socket.destroy(),
  };
  onSipMessages(socket, (text) => {
    peer.messages.push(text);
    onMessage(text, peer);
  });
  return peer;
}

/** Frames what arrives on a TCP socket into SIP messages (header block plus Content-Length). */
export function onSipMessages(socket: NetSocket, onMessage: (text: string) => void): void {
  let buffered = '';
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('latin1');
    for (;;) {
      buffered = buffered.replace(/^(\r\n)+/, '');
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/\r\n(?:Content-Length|l):\s*(\d+)/i.exec(buffered.slice(0, end + 2))?.[1] ?? 0);
      if (buffered.length < end + 4 + length) return;
      const text = buffered.slice(0, end + 4 + length);
      buffered = buffered.slice(end + 4 + length);
      onMessage(text);
    }
  });
}

/** The values of a header (every field, in order) of a SIP message's text. */
export function headerValues(text: string, name: string): string[] {
  const re = new RegExp(`^(?:${name}):\\s*(.*)$`, 'gim');
  return [...text.split('\r\n\r\n')[0]!.matchAll(re)].map((m) => m[1]!.trim());
}

/** A 200 OK for a request's text: its Vias, From, Call-ID and CSeq, a To with a tag. */
export function okFor(request: string, extra: string[] = []): string {
  const lines = ['SIP/2.0 200 OK'];
  for (const v of headerValues(request, 'Via|v')) lines.push(`Via: ${v}`);
  const to = headerValues(request, 'To|t')[0]!;
  lines.push(`From: ${headerValues(request, 'From|f')[0]}`, `To: ${to.includes('tag=') ? to : `${to};tag=ok${randomBytes(3).toString('hex')}`}`);
  lines.push(`Call-ID: ${headerValues(request, 'Call-ID|i')[0]}`, `CSeq: ${headerValues(request, 'CSeq')[0]}`, ...extra, 'Content-Length: 0', '', '');
  return lines.join('\r\n');
}

/** A SIP peer on a WebSocket (subprotocol `sip`, one message per frame), shaped like a StreamPeer. */
export async function connectWsPeer(port: number, onMessage: (text: string, peer: StreamPeer) => void = () => undefined): Promise<StreamPeer> {
  const ws = new WebSocket(`ws://${HOST}:${port}`, 'sip');
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  ws.on('error', () => undefined);
  const socket = (ws as unknown as { _socket: NetSocket })._socket;
  const peer: StreamPeer = {
    socket,
    localPort: socket.localPort!,
    messages: [],
    write: (text) => ws.send(text),
    close: () => ws.terminate(),
  };
  ws.on('message', (data: Buffer) => {
    const text = data.toString('latin1');
    peer.messages.push(text);
    onMessage(text, peer);
  });
  return peer;
}
