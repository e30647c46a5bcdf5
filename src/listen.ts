// Binding and closing the daemon's TCP servers (SIP stream transports, HTTP, SMPP, statistics, JSON heartbeats):
// one place for the promise wrapping, so that a port that cannot be bound rejects start-up with its errno, and
// an error after the bind is logged by its owner instead of reaching the process-wide handler.

import type { AddressInfo, Server } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { StartupError } from './errors.js';
import { listenOptions } from './workers/port-sharing.js';

export interface ListenOptions {
  /**
   * Names the listener in the start-up error ("HTTP: cannot listen on 127.0.0.1:8080: EADDRINUSE"); without it
   * the errno error itself rejects (its address and port say where).
   */
  readonly what?: string;
  /** Receives the errors the server reports once it is bound. */
  readonly onError?: (err: Error) => void;
  /**
   * With `workersPortSharing=reuseport`, a worker binds this server's own socket with SO_REUSEPORT instead of
   * the cluster's shared one (the SIP listening points; src/workers/port-sharing.ts).
   */
  readonly reusePort?: boolean;
}

/** Binds `server` to host:port; resolves with the bound port (the kernel's choice for port 0). */
export function listen(server: Server, port: number, host: string, opts: ListenOptions = {}): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const onBindError = (err: NodeJS.ErrnoException): void => {
      reject(opts.what === undefined ? err : new StartupError(`${opts.what}: cannot listen on ${host}:${port}: ${err.code ?? err.message}`));
    };
    server.once('error', onBindError);
    server.listen(opts.reusePort === true ? listenOptions(port, host) : { port, host }, () => {
      server.off('error', onBindError);
      if (opts.onError !== undefined) server.on('error', opts.onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting and closes every connection, idle or not. */
export function closeHttpServer(server: HttpServer): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
