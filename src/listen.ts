// Binding and closing the daemon's TCP servers (statistics, JSON heartbeats): one place for the
// promise wrapping, so that a port that cannot be bound rejects start-up with its errno.

import type { Server } from 'node:net';
import type { Server as HttpServer } from 'node:http';

export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
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
