// Client connections that half-closed. A client may send its request and half-close at once
// (`socket.end(request)`), and it is answered (the fast path and node:http, whose httpAllowHalfOpen the balancer
// sets). But a FIN is also how most clients abort, and then nobody reads the answer of a node that never sends
// one: so a half-closed client connection lives on only while bytes move, and HALF_CLOSED_IDLE_MS without any
// closes it, and with it the node request.

import type { Socket } from 'node:net';

export const HALF_CLOSED_IDLE_MS = 5_000;

const bound = new WeakSet<Socket>();

/**
 * Arms the bound on a client connection: the plain socket, or over TLS the TLS socket (the TCP socket under it
 * sees no end). Once per socket, though a handed-over one reaches two servers.
 */
export function boundHalfClosed(socket: Socket): void {
  if (bound.has(socket)) return;
  bound.add(socket);
  socket.once('end', () => socket.setTimeout(HALF_CLOSED_IDLE_MS, () => socket.destroy()));
}
