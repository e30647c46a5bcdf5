// SIP over UDP: one datagram, one message. Malformed and oversized datagrams are dropped and counted.

import { createSocket, type Socket } from 'node:dgram';
import { udpBindOptions, udpSocketOptions } from '../../workers/port-sharing.js';
import { isIPv6 } from 'node:net';
import { lookup, type LookupOneOptions } from 'node:dns';
import { isIpLiteral } from '../uri.js';
import { parseDatagram } from '../message.js';
import type { Flow, ListeningPoint, TransportOptions } from './transport.js';

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
  readonly port: number;
  private socket: Socket | undefined;
  private readonly opts: TransportOptions;

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
        resolve();
      });
    });
    // Large buffers so bursts are not lost at high call rates (best effort: the OS may cap them).
    try {
      socket.setRecvBufferSize(4 * 1024 * 1024);
      socket.setSendBufferSize(4 * 1024 * 1024);
    } catch {
      /* capped by the OS */
    }
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

  async stop(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  toString(): string {
    return `udp:${this.host}:${this.port} (${this.side})`;
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
