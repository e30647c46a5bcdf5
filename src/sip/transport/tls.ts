// SIP over TLS (RFC 3261 26.3.1, RFC 5630): the TCP listening point with TLS sockets on both sides: a TLS
// server for clients or nodes, and TLS connections to a node's tlsPort verified against the trust store.

import { connect as tlsConnect, createServer as tlsCreateServer, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { isIP, type Server, type Socket } from 'node:net';
import type { SipTransport, TlsConfig } from '../../config/types.js';
import { TcpListeningPoint } from './tcp.js';
import { clientTlsOptions, serverTlsOptions } from '../../config/tls-options.js';
import type { TransportOptions } from './transport.js';

/** An inbound TLS handshake that has not finished after this long is abandoned (and counted). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * tls.connect to a node, counting (and logging) a handshake that fails after the TCP connection was made:
 * a refused connection is a send failure, a refused certificate is a TLS failure. Used for TLS and WSS.
 */
export function connectToNode(options: ConnectionOptions, what: string, stats: TransportOptions['stats'], log: TransportOptions['log']): TLSSocket {
  const socket = tlsConnect(options);
  let tcpUp = false;
  let secured = false;
  socket.once('connect', () => (tcpUp = true));
  socket.once('secureConnect', () => (secured = true));
  socket.on('error', (err) => {
    if (tcpUp && !secured) {
      stats.tlsHandshakeFailures++;
      log.warn(`${what} failed: ${err.message}`);
    }
  });
  return socket;
}

export class TlsListeningPoint extends TcpListeningPoint {
  override readonly transport: SipTransport = 'tls';
  private readonly tlsConfig: TlsConfig;
  private readonly clientOptions: ConnectionOptions;
  private readonly topts: TransportOptions;

  constructor(opts: TransportOptions, tls: TlsConfig) {
    super(opts);
    this.topts = opts;
    this.tlsConfig = tls;
    this.clientOptions = clientTlsOptions(tls);
  }

  protected override createServer(onConnection: (socket: Socket) => void): Server {
    const { stats, log } = this.topts;
    const server = tlsCreateServer({ ...serverTlsOptions(this.tlsConfig), handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, (socket) => {
      // With clientAuth 'request' an untrusted or missing certificate is accepted; say so at debug level.
      if (this.tlsConfig.clientAuth === 'request' && !socket.authorized) {
        log.debug(`TLS client ${socket.remoteAddress}:${socket.remotePort} has no trusted certificate (${String(socket.authorizationError ?? 'none sent')}); accepted (Want)`);
      }
      onConnection(socket);
    });
    server.on('tlsClientError', (err, socket) => {
      stats.tlsHandshakeFailures++;
      log.debug({ err }, `TLS handshake with ${socket.remoteAddress}:${socket.remotePort} on ${this.host}:${this.port} failed`);
      socket.destroy();
    });
    return server;
  }

  protected override connectTo(host: string, port: number): Socket {
    const { stats, log } = this.topts;
    const local = this.host === '0.0.0.0' || this.host === '::' ? undefined : this.host;
    // tls.connect passes localAddress on to net.connect; its type does not list it.
    const options: ConnectionOptions & { localAddress?: string } = {
      ...this.clientOptions,
      host,
      port,
      localAddress: local,
      // SNI carries host names only (RFC 6066 3).
      servername: isIP(host) === 0 ? host : undefined,
    };
    return connectToNode(options, `TLS handshake with node ${host}:${port}`, stats, log);
  }

  protected override get connectEvent(): string {
    return 'secureConnect';
  }
}
