// Client connections that half-closed. A client may send its request and half-close at once
// (`socket.end(request)`), and it is answered (the fast path and node:http, whose httpAllowHalfOpen the balancer
// sets). But a FIN is also how most clients abort, and then nobody reads the answer of a node that never sends
// one: so a half-closed client connection lives on only while bytes move, and HALF_CLOSED_IDLE_MS without any
// closes it, and with it the node request.

import type { Socket } from 'node:net';

export const HALF_CLOSED_IDLE_MS = 5_000;

/** Arms the bound on `socket` (a client connection, plain or the TCP socket under TLS). */
export function boundHalfClosed(socket: Socket): void {
  socket.once('end', () => socket.setTimeout(HALF_CLOSED_IDLE_MS, () => socket.destroy()));
}
