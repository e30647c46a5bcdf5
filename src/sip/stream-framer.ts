// Frames SIP messages out of a byte stream (TCP and TLS): moved out of message.ts, which parses one
// message; this file only finds where messages begin and end in the stream.

import { attach, parseHead, type SipMessage } from './message.js';

const CR = 13;
const LF = 10;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/** False when the start line (so far) holds a control character: the stream is not SIP. */
function plausibleStartLine(data: Buffer, pos: number, n: number): boolean {
  for (let i = pos; i < n; i++) {
    const c = data[i]!;
    if (c === CR) return data[i + 1] === undefined || data[i + 1] === LF;
    if ((c < 32 && c !== 9) || c === 127) return false;
  }
  return true;
}

/** True when data[pos, n) is a prefix of CRLFCRLF. */
function isPingPrefix(data: Buffer, pos: number, n: number): boolean {
  for (let i = pos; i < n; i++) if (data[i] !== ((i - pos) % 2 === 0 ? CR : LF)) return false;
  return true;
}

export interface StreamFramerEvents {
  message(message: SipMessage): void;
  /** A double-CRLF keep-alive ping (RFC 5626 3.5.1): answer with a single CRLF. */
  ping(): void;
  /** A message that cannot be parsed but whose length is known: skipped, the stream goes on. */
  malformed(error: string): void;
  /** The stream cannot be framed any more (oversized or unparseable head): close the connection. */
  fatal(error: string): void;
}

/**
 * Frames SIP messages out of a byte stream (TCP, TLS): several messages per chunk, a message split
 * across chunks at any byte, CRLF keep-alives between messages, and a maximum message size.
 */
export class StreamFramer {
  private pending: Buffer | undefined;
  /** Where to resume looking for the end of the headers in `pending`. */
  private scanFrom = 0;
  private dead = false;

  constructor(
    private readonly maxMessageSize: number,
    private readonly on: StreamFramerEvents,
  ) {}

  push(chunk: Buffer): void {
    if (this.dead) return;
    let data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    let pos = 0;
    const n = data.length;
    while (pos < n) {
      const c = data[pos]!;
      if (c === CR || c === LF) {
        // Keep-alives live between messages: CRLFCRLF is a ping, a lone CRLF a pong.
        if (n - pos >= 4 && data[pos] === CR && data[pos + 1] === LF && data[pos + 2] === CR && data[pos + 3] === LF) {
          this.on.ping();
          pos += 4;
          continue;
        }
        if (n - pos < 4 && isPingPrefix(data, pos, n)) break; // may become a ping: wait for more
        pos += c === CR && data[pos + 1] === LF ? 2 : 1;
        this.scanFrom = 0;
        continue;
      }
      const from = Math.max(pos, this.scanFrom - 3);
      const headEnd = data.indexOf(CRLFCRLF, from);
      if (headEnd < 0) {
        if (n - pos > this.maxMessageSize) return this.fail(`message larger than ${this.maxMessageSize} bytes`);
        // Do not wait for the rest of what cannot be SIP: a start line holds no control characters.
        if (!plausibleStartLine(data, pos, n)) return this.fail('not a SIP start line');
        this.scanFrom = n;
        break;
      }
      const head = parseHead(data, pos, headEnd);
      const bodyStart = headEnd + 4;
      // RFC 3261 18.3: Content-Length is mandatory on streams; a missing one is taken as 0.
      const length = head.contentLength ?? 0;
      if (bodyStart + length - pos > this.maxMessageSize) return this.fail(`message larger than ${this.maxMessageSize} bytes`);
      if (!head.ok && head.contentLength === undefined) return this.fail(`unparseable message: ${head.error}`);
      if (bodyStart + length > n) {
        this.scanFrom = headEnd;
        break;
      }
      this.scanFrom = 0;
      const end = bodyStart + length;
      // The message refers to the chunk's bytes (no copy): it is handled before the next chunk arrives.
      if (head.ok) this.on.message(attach(head.message, data, pos, bodyStart, end));
      else this.on.malformed(head.error);
      pos = end;
      if (this.dead) return;
    }
    if (pos >= n) {
      this.pending = undefined;
      this.scanFrom = 0;
    } else {
      if (pos > 0) this.scanFrom = Math.max(0, this.scanFrom - pos);
      data = data.subarray(pos);
      this.pending = Buffer.from(data);
    }
  }

  /** Bytes waiting for the rest of a message. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }

  private fail(error: string): void {
    this.dead = true;
    this.pending = undefined;
    this.on.fatal(error);
  }
}
