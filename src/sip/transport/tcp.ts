// SIP over TCP: a server for inbound connections and a pool of connections keyed by remote address, so
// that responses go back on the connection a request came in on and each node gets one reused connection.

import { createServer, connect, type Server, type Socket } from 'node:net';
import { StreamFramer } from '../stream-framer.js';
import { listen } from '../../listen.js';
import { connectionFor, openConnection, type PoolRules } from './connection-pool.js';
import type { SipTransport } from '../../config/types.js';
import type { Flow, ListeningPoint, TransportOptions } from './transport.js';

/** Errors on a connection we opened that say the peer's process is gone (not a slow or lossy network). */
const PEER_GONE: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET']);

interface Connection {
  readonly socket: Socket;
  readonly flow: Flow;
  connected: boolean;
  /** Error callbacks of sends made before the connection was established. */
  waiting: ((err: Error) => void)[] | undefined;
}

export class TcpListeningPoint implements ListeningPoint {
  readonly transport: SipTransport = 'tcp';
  readonly side;
  readonly host: string;
  /** The configured port until start(), then the bound one (they differ for port 0). */
  port: number;
  private server: Server | undefined;
  /** Open connections by "address:port" of the peer (inbound: its source; outbound: where we connected). */
  private readonly pool = new Map<string, Connection>();
  private readonly opts: TransportOptions;

  constructor(opts: TransportOptions) {
    this.opts = opts;
    this.side = opts.side;
    this.host = opts.host;
    this.port = opts.port;
  }

  /** Subclasses (TLS) create their own server and client sockets. */
  protected createServer(onConnection: (socket: Socket) => void): Server {
    return createServer(onConnection);
  }

  protected connectTo(host: string, port: number): Socket {
    return connect({ host, port, localAddress: this.host === '0.0.0.0' || this.host === '::' ? undefined : this.host });
  }

  async start(): Promise<void> {
    const server = this.createServer((socket) => this.accept(socket));
    this.server = server;
    // Counted on the raw connection, before any TLS handshake: what a slow or idle client costs is bounded.
    const limits = this.opts.streamLimits;
    if (limits) server.prependListener('connection', (socket: Socket) => void limits.admit(socket, this.transport));
    this.port = await listen(server, this.port, this.host, { reusePort: true, onError: (err) => this.opts.log.error({ err }, `TCP server error on ${this.host}:${this.port}`) });
  }

  private accept(socket: Socket): void {
    if (socket.destroyed) return; // refused by sipMaxConnections
    const address = normaliseAddress(socket.remoteAddress ?? '');
    const port = socket.remotePort ?? 0;
    const conn = this.adopt(socket, address, port, true);
    // Two connections from the same address:port cannot both be open; keep the newest.
    this.pool.set(`${address}:${port}`, conn);
  }

  private adopt(socket: Socket, address: string, port: number, connected: boolean): Connection {
    const { stats, log } = this.opts;
    const key = `${address}:${port}`;
    const flow: Flow = {
      transport: this.transport,
      local: this,
      remoteAddress: address,
      remotePort: port,
      outbound: !connected,
      send: (data) => {
        stats.bytes += data.length;
        socket.write(data);
      },
    };
    const conn: Connection = { socket, flow, connected, waiting: connected ? undefined : [] };
    socket.setNoDelay(true);
    if (this.opts.idleTimeoutMs > 0) {
      socket.setTimeout(this.opts.idleTimeoutMs, () => {
        log.debug(`Closing idle ${this.transport} connection ${key}`);
        socket.destroy();
      });
    }
    stats.activeConnections.inc(this.transport);
    const framer = new StreamFramer(this.opts.maxMessageSize, {
      message: (msg) => {
        stats.bytes += msg.toBuffer().length;
        this.opts.onMessage(msg, flow);
      },
      ping: () => socket.write('\r\n'),
      malformed: (error) => {
        stats.malformed++;
        log.debug(`Malformed SIP message on ${this.transport} from ${key} (${error})`);
      },
      fatal: (error) => {
        stats.malformed++;
        stats.dropped.inc(error.startsWith('message larger') ? 'too-large' : 'malformed');
        stats.connectionErrors++;
        log.debug(`Closing ${this.transport} connection ${key}: ${error}`);
        socket.destroy();
      },
    });
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
    this.opts.streamLimits?.watch(socket, framer);
    socket.on('error', (err: NodeJS.ErrnoException) => {
      stats.connectionErrors++;
      log.debug({ err }, `${this.transport} connection ${key} failed`);
      // A connection we opened (to a node, normally) refused or reset: the node's process is gone.
      if (!connected && err.code !== undefined && PEER_GONE.has(err.code)) this.opts.onPeerUnreachable?.(address, port, this.transport, `${this.transport} connection ${err.code === 'ECONNREFUSED' ? 'refused' : 'reset'} (${err.code})`);
      const waiting = conn.waiting;
      conn.waiting = undefined;
      if (waiting) for (const cb of waiting) cb(err);
    });
    socket.once('close', () => {
      stats.activeConnections.dec(this.transport);
      // A message cut short by the peer closing: never forwarded, so counted as dropped.
      if (framer.buffered > 0) stats.dropped.inc('truncated');
      if (this.pool.get(key) === conn) this.pool.delete(key);
      const waiting = conn.waiting;
      conn.waiting = undefined;
      if (waiting) for (const cb of waiting) cb(new Error('connection closed'));
    });
    return conn;
  }

  /** What a TCP/TLS connection in the pool is, and how one is opened (the pool's rules are shared with WS). */
  private readonly poolRules: PoolRules<Connection> = {
    transport: () => this.transport,
    isOpen: (conn) => !conn.socket.destroyed,
    stopped: () => !this.server,
    open: (address, port) => {
      const socket = this.connectTo(address, port);
      const conn = this.adopt(socket, address, port, false);
      socket.once(this.connectEvent, () => {
        conn.connected = true;
        conn.waiting = undefined;
      });
      return conn;
    },
  };

  sendTo(data: Buffer, host: string, port: number, onError?: (err: Error) => void): void {
    const conn = connectionFor(this.pool, host, port, this.poolRules, onError);
    if (!conn) return;
    if (onError && conn.waiting) conn.waiting.push(onError);
    this.opts.stats.bytes += data.length;
    conn.socket.write(data);
  }

  hasConnection(host: string, port: number): boolean {
    return openConnection(this.pool, host, port, this.poolRules) !== undefined;
  }

  /** The event after which an outbound socket can carry messages ('secureConnect' for TLS). */
  protected get connectEvent(): string {
    return 'connect';
  }

  /** Open connections (for tests and /lbinfo). */
  get connections(): number {
    return this.pool.size;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const conn of this.pool.values()) conn.socket.destroy();
    this.pool.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  toString(): string {
    return `${this.transport}:${this.host}:${this.port} (${this.side})`;
  }
}

/** "::ffff:127.0.0.1" → "127.0.0.1", so that pool keys match the addresses in Via headers. */
export function normaliseAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
