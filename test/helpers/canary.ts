// Canary listeners for the security tests: a UDP socket and a TCP server on one address and port that record
// everything the balancer sends them (datagrams, connections, bytes). A canary that heard anything means a
// client made the balancer send where the client chose.

import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { connect, createServer, isIPv6, type Server, type Socket } from 'node:net';

export interface Heard {
  readonly transport: 'udp' | 'tcp';
  /** A TCP connection (data: what came on it so far) or a datagram. */
  readonly data: string;
  readonly from: string;
}

export class Canary {
  readonly heard: Heard[] = [];
  /** TCP connections accepted. */
  connections = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly host: string,
    readonly port: number,
    private readonly udp: DgramSocket,
    private readonly tcp: Server,
  ) {}

  /**
   * Listens on host (127.0.0.x or ::1), UDP and TCP on the same free port. `onConnection` may talk back on a TCP
   * connection (e.g. an attacker's heartbeat).
   */
  static async start(host: string, onConnection?: (socket: Socket) => void): Promise<Canary> {
    for (let attempt = 0; ; attempt++) {
      const tcp = createServer();
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(0, host, () => resolve());
      });
      const port = (tcp.address() as { port: number }).port;
      const udp = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
      const bound = await new Promise<boolean>((resolve) => {
        udp.once('error', () => resolve(false));
        udp.bind(port, host, () => resolve(true));
      });
      if (!bound) {
        udp.close();
        await new Promise<void>((r) => tcp.close(() => r()));
        if (attempt > 20) throw new Error(`no port free for UDP and TCP on ${host}`);
        continue;
      }
      const c = new Canary(host, port, udp, tcp);
      udp.on('message', (buf, rinfo) => c.heard.push({ transport: 'udp', data: buf.toString('latin1'), from: `${rinfo.address}:${rinfo.port}` }));
      tcp.on('connection', (socket) => {
        c.connections++;
        c.sockets.add(socket);
        const entry = { transport: 'tcp' as const, data: '', from: `${socket.remoteAddress}:${socket.remotePort}` };
        c.heard.push(entry);
        socket.on('data', (d: Buffer) => ((entry as { data: string }).data += d.toString('latin1')));
        socket.on('error', () => undefined);
        socket.on('close', () => c.sockets.delete(socket));
        onConnection?.(socket);
      });
      return c;
    }
  }

  /** host:port as written in a Via or URI. */
  get hostPort(): string {
    return `${isIPv6(this.host) ? `[${this.host}]` : this.host}:${this.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.udp.close(() => r()));
    await new Promise<void>((r) => this.tcp.close(() => r()));
  }
}

/** The number a /lbstat drop reason has reached (0 when absent). */
export function droppedFor(metrics: Record<string, unknown>, reason: string): number {
  const by = metrics.SipDroppedByReason as Record<string, number> | undefined;
  return by?.[reason] ?? 0;
}

/** A hostile client: raw SIP text from a chosen local address, over UDP or one TCP connection. */
export class RawClient {
  private constructor(
    readonly transport: 'udp' | 'tcp',
    readonly localHost: string,
    private readonly udp: DgramSocket | undefined,
    private readonly tcp: Socket | undefined,
  ) {}

  /** Binds (UDP) or connects (TCP) from localHost to the balancer at host:port. */
  static async open(transport: 'udp' | 'tcp', localHost: string, host: string, port: number): Promise<RawClient> {
    if (transport === 'udp') {
      const s = createSocket(isIPv6(localHost) ? 'udp6' : 'udp4');
      s.on('error', () => undefined);
      await new Promise<void>((resolve) => s.bind(0, localHost, resolve));
      const c = new RawClient('udp', localHost, s, undefined);
      c.target = { host, port };
      return c;
    }
    const socket = connect({ host, port, localAddress: localHost });
    socket.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient('tcp', localHost, undefined, socket);
  }

  private target: { host: string; port: number } | undefined;

  /** The local port (in Vias the client writes of itself). */
  get localPort(): number {
    return this.udp ? this.udp.address().port : (this.tcp!.address() as { port: number }).port;
  }

  send(text: string): void {
    const data = Buffer.from(text, 'latin1');
    if (this.udp) this.udp.send(data, this.target!.port, this.target!.host);
    else this.tcp!.write(data);
  }

  close(): void {
    this.udp?.close();
    this.tcp?.destroy();
  }
}

/** A SIP message from lines (CRLF, Content-Length computed). */
export function sipText(head: string[], body = ''): string {
  return [...head, `Content-Length: ${Buffer.byteLength(body, 'latin1')}`, '', body].join('\r\n');
}
