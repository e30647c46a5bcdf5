// What the algorithm and the node chooser see of a fast-path request: the IncomingMessage fields they may
// read (method, url, headers, socket), built from the parsed head, the headers object only on demand.

import type { Socket } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { RequestHead } from './http1-head.js';

class AlgorithmView {
  private headersCache: Record<string, string> | undefined;
  readonly httpVersion = '1.1';
  constructor(private readonly head: RequestHead, readonly socket: Socket) {}
  get method(): string {
    return this.head.method;
  }
  get url(): string {
    return this.head.target;
  }
  get rawHeaders(): string[] {
    return this.head.rawHeaders;
  }
  get headers(): Record<string, string> {
    if (this.headersCache === undefined) {
      const h: Record<string, string> = {};
      const raw = this.head.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        const k = raw[i]!.toLowerCase();
        h[k] = h[k] === undefined ? raw[i + 1]! : `${h[k]}, ${raw[i + 1]!}`;
      }
      this.headersCache = h;
    }
    return this.headersCache;
  }
}

/** The parsed head as the IncomingMessage the chooser and the algorithms take (only the fields above exist). */
export function algorithmView(head: RequestHead, socket: Socket): IncomingMessage {
  return new AlgorithmView(head, socket) as unknown as IncomingMessage;
}
