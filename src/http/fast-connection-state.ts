// The states of a fast-path client connection and the only transitions between them (one table, one
// function, as grpc-js updateState): a FastConnection changes state only through nextFastState().

/**
 * - `head`: waiting for (or parsing) the next request head;
 * - `body`: relaying the request body to the node;
 * - `response`: request sent, waiting for or relaying the response;
 * - `closed`: closed, or handed to the node:http server, which then owns the socket.
 */
export type FastState = 'head' | 'body' | 'response' | 'closed';

/**
 * - `request`: a head was sent to a node with its whole body (or none);
 * - `request-with-body`: a head was sent and body bytes are still to come from the client;
 * - `body-sent`: the last body byte went to the node;
 * - `answered`: the exchange is over and the connection stays open for the next request;
 * - `close`: the connection ends (either side closed, an error, Connection: close, a hand-off).
 */
export type FastEvent = 'request' | 'request-with-body' | 'body-sent' | 'answered' | 'close';

/** The state after `event` in `state`, or undefined when the event cannot happen there (a bug). */
export function nextFastState(state: FastState, event: FastEvent): FastState | undefined {
  switch (event) {
    case 'close':
      return 'closed';
    case 'request':
      return state === 'head' ? 'response' : undefined;
    case 'request-with-body':
      return state === 'head' ? 'body' : undefined;
    case 'body-sent':
      return state === 'body' ? 'response' : undefined;
    case 'answered':
      // The fast path answers a request without node itself while still in `head`.
      return state === 'response' || state === 'head' ? 'head' : undefined;
  }
}
