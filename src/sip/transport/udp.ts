// SIP over UDP: one datagram, one message. Malformed and oversized datagrams are dropped and counted.
// Datagrams to a registered node go out of a socket connected to it (watchPeer), so that the ICMP port
// unreachable a dead node's host sends back surfaces as ECONNREFUSED and the node leaves the rotation at once.

import { createSocket, type Socket } from 'node:dgram';
import { udpBindOptions, udpSocketOptions } from '../../workers/port-sharing.js';
import { isIPv6 } from 'node:net';
import { lookup, type LookupOneOptions } from 'node:dns';
import { isIpLiteral } from '../uri.js';
import { parseDatagram } from '../message.js';
import type { Flow, ListeningPoint, TransportOptions } from './transport.js';
import { boundPort } from '../../bound-listeners.js';

/** A socket connected to one node; used for sends once connected. */
interface Peer {
  readonly socket: Socket;
  ready: boolean;
  /** Set while the node is gone: the socket closes when it fires, unless the node comes back first. */
  lingerTimer?: NodeJS.Timeout;
}

/**
 * How long the socket of a node that left stays open: the node may still answer transactions it had (to that
 * socket's port), and a node that expired under load and re-registers must not lose them. 64 × T1, a
 * transaction's lifetime.
 */
const PEER_LINGER_MS = 32_000;

/** Where a datagram came from; replies go back from the same socket. A class, so no closure per message. */
class UdpFlow implements Flow {
  readonly transport = 'udp' as const;
  constructor(
    readonly local: UdpListeningPoint,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {}

  send(data: Buffer): void {
    this.local.sendTo(data, this.remoteAddress, this.remotePort);
  }
}

export class UdpListeningPoint implements ListeningPoint {
  readonly transport = 'udp' as const;
  readonly side;
  readonly host: string;
  /** The configured port until start(), then the bound one (they differ for port 0). */
  port: number;
  private socket: Socket | undefined;
  private readonly opts: TransportOptions;
  /** Connected sockets to nodes, by address then port (two lookups, no string built per send). */
  private readonly peers = new Map<string, Map<number, Peer>>();

  constructor(opts: TransportOptions) {
    this.opts = opts;
    this.side = opts.side;
    this.host = opts.host;
    this.port = opts.port;
  }

  async start(): Promise<void> {
    const socket = createSocket({ type: isIPv6(this.host) ? 'udp6' : 'udp4', reuseAddr: false, lookup: fastLookup, ...udpSocketOptions() });
    this.socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(udpBindOptions(this.port, this.host), () => {
        socket.off('error', reject);
        this.port = boundPort(socket);
        resolve();
      });
    });
    setLargeBuffers(socket);
    socket.on('error', (err) => {
      // ICMP errors and the like: never fatal for a connectionless socket.
      this.opts.stats.sendFailures++;
      this.opts.log.debug({ err }, `UDP socket error on ${this.host}:${this.port}`);
    });
    socket.on('message', (buf, rinfo) => this.receive(buf, rinfo.address, rinfo.port));
  }

  private receive(buf: Buffer, address: string, port: number): void {
    const { stats } = this.opts;
    if (buf.length > this.opts.maxMessageSize) {
      stats.dropped.inc('too-large');
      return;
    }
    const r = parseDatagram(buf);
    if (r.kind === 'message') {
      stats.bytes += buf.length;
      this.opts.onMessage(r.message, new UdpFlow(this, address, port));
    } else if (r.kind === 'malformed') {
      stats.malformed++;
      this.opts.log.debug(`Malformed SIP datagram from ${address}:${port} (${r.error})`);
    }
  }

  sendTo(data: Buffer, host: string, port: number, onError?: (err: Error) => void): void {
    const socket = this.socket;
    if (!socket) {
      onError?.(new Error('UDP listening point is stopped'));
      return;
    }
    this.opts.stats.bytes += data.length;
    const peer = this.peers.get(host)?.get(port);
    if (peer !== undefined && peer.ready) {
      // Connected: no address to resolve, and an ICMP error comes back as the socket's 'error' event.
      peer.socket.send(data);
      return;
    }
    // No completion callback: with one, every datagram costs a call back into JavaScript once sent. A
    // datagram the kernel accepted cannot fail later in a way we would learn of here; the rare local
    // failure comes as the socket's 'error' event, which counts it.
    try {
      socket.send(data, port, host);
    } catch (err) {
      // A bad port (0, 99999) or address taken from a header throws at once: a failed send, not a crash.
      if (onError) onError(err as Error);
      else {
        this.opts.stats.sendFailures++;
        this.opts.log.debug({ err }, `UDP send to ${host}:${port} refused`);
      }
    }
  }

  /** Sends to host:port go out of a socket connected to it from now on (a registered node's address). */
  watchPeer(host: string, port: number): void {
    // Only literals of this point's family (a dual-stack pair watches on each), only while running.
    if (!this.socket || !isIpLiteral(host) || isIPv6(host) !== isIPv6(this.host) || !(port > 0 && port < 65536)) return;
    let byPort = this.peers.get(host);
    const known = byPort?.get(port);
    if (known) {
      // Back before its socket closed: keep it.
      clearTimeout(known.lingerTimer);
      known.lingerTimer = undefined;
      return;
    }
    if (!byPort) {
      byPort = new Map();
      this.peers.set(host, byPort);
    }
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', lookup: fastLookup });
    const peer: Peer = { socket, ready: false };
    byPort.set(port, peer);
    socket.on('error', (err: NodeJS.ErrnoException) => this.peerError(host, port, err));
    // The node answers to the source port (our Via has rport): read it like the listening socket.
    socket.on('message', (buf, rinfo) => this.receive(buf, rinfo.address, rinfo.port));
    const wildcard = this.host === '0.0.0.0' || this.host === '::';
    // exclusive: in a cluster worker, a port-0 bind would otherwise share one socket among all workers.
    socket.bind({ port: 0, address: wildcard ? undefined : this.host, exclusive: true }, () => {
      if (byPort.get(port) !== peer) return;
      setLargeBuffers(socket);
      socket.connect(port, host, () => {
        if (byPort.get(port) === peer) peer.ready = true;
      });
    });
  }

  /** The node left: its socket closes after PEER_LINGER_MS, unless it is watched again meanwhile. */
  unwatchPeer(host: string, port: number): void {
    const byPort = this.peers.get(host);
    const peer = byPort?.get(port);
    if (!byPort || !peer || peer.lingerTimer) return;
    peer.lingerTimer = setTimeout(() => {
      if (byPort.get(port) !== peer) return;
      byPort.delete(port);
      if (byPort.size === 0 && this.peers.get(host) === byPort) this.peers.delete(host);
      closeQuietly(peer.socket);
    }, PEER_LINGER_MS);
    peer.lingerTimer.unref();
  }

  /** Nodes watched (for tests and /lbinfo). */
  get watchedPeers(): number {
    let n = 0;
    for (const byPort of this.peers.values()) n += byPort.size;
    return n;
  }

  private peerError(host: string, port: number, err: NodeJS.ErrnoException): void {
    if (err.code === 'ECONNREFUSED') {
      this.opts.onPeerUnreachable?.(host, port, 'udp', 'ICMP port unreachable (ECONNREFUSED on its connected UDP socket)');
      return;
    }
    this.opts.stats.sendFailures++;
    this.opts.log.debug({ err }, `UDP socket connected to ${host}:${port}: ${err.code ?? err.message}`);
  }

  async stop(): Promise<void> {
    for (const byPort of this.peers.values()) {
      for (const peer of byPort.values()) {
        clearTimeout(peer.lingerTimer);
        closeQuietly(peer.socket);
      }
    }
    this.peers.clear();
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  toString(): string {
    return `udp:${this.host}:${this.port} (${this.side})`;
  }
}

/** Large buffers so bursts are not lost at high call rates (best effort: the OS may cap them). */
function setLargeBuffers(socket: Socket): void {
  try {
    socket.setRecvBufferSize(4 * 1024 * 1024);
    socket.setSendBufferSize(4 * 1024 * 1024);
  } catch {
    /* capped by the OS */
  }
}

function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    /* closed already */
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * dgram resolves the address of every send, even an IP literal (a regular expression, then a tick). The
 * forwarder sends to IP literals almost always: answer those at once, and resolve only host names.
 */
function fastLookup(hostname: string, options: LookupOneOptions, callback: LookupCallback): void {
  if (isIpLiteral(hostname)) {
    callback(null, hostname, hostname.includes(':') ? 6 : 4);
    return;
  }
  lookup(hostname, typeof options === 'number' ? { family: options } : options, callback);
}
