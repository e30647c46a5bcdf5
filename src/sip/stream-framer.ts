// Frames SIP messages out of a byte stream (TCP and TLS): moved out of message.ts, which parses one
// message; this file only finds where messages begin and end in the stream.

import { attach, parseHead, type SipMessage } from './message.js';

const CR = 13;
const LF = 10;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/**
 * False when the start line (so far) holds a control character: the stream is not SIP; 'ended' when it
 * ended well (CRLF), true when it may still go on.
 */
function plausibleStartLine(data: Buffer, pos: number, n: number): boolean | 'ended' {
  for (let i = pos; i < n; i++) {
    const c = data[i]!;
    if (c === CR) return data[i + 1] === undefined ? true : data[i + 1] === LF ? 'ended' : false;
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

/** Work done by one framer, for tests and benchmarks that check its cost stays linear in the bytes. */
export interface FramerWork {
  /** Bytes copied into the framer's own buffer (appending a chunk, growing, keeping a leftover). */
  copied: number;
  /** Bytes looked at by the framer's own scans (end-of-headers search, start-line check, head parse). */
  scanned: number;
}

/**
 * Frames SIP messages out of a byte stream (TCP, TLS): several messages per chunk, a message split
 * across chunks at any byte, CRLF keep-alives between messages, and a maximum message size.
 *
 * Cost is linear in the bytes received however they are split: an unfinished message is kept in a
 * buffer that grows by doubling (each byte copied O(1) times), every scan resumes where the last one
 * stopped, and a head whose body is still arriving is parsed once to learn its length, then again
 * only when the body is complete.
 */
export class StreamFramer {
  /** Holds an unfinished message in pending[0, length); never written again once a message refers to it. */
  private pending: Buffer | undefined;
  private length = 0;
  /** Where to resume looking for the end of the headers in `pending`. */
  private scanFrom = 0;
  /** How far the start line of the pending message has been checked for control characters. */
  private startLineChecked = 0;
  /** Total bytes the pending message needs (head + body) once its head is known; 0 before that. */
  private need = 0;
  private dead = false;
  /** Since when (Date.now()) bytes of an unfinished message have been waiting; 0 when none. */
  private since = 0;
  readonly work: FramerWork = { copied: 0, scanned: 0 };

  constructor(
    private readonly maxMessageSize: number,
    private readonly on: StreamFramerEvents,
  ) {}

  push(chunk: Buffer): void {
    if (this.dead || chunk.length === 0) return;
    if (this.pending && this.need > 0 && this.length + chunk.length < this.need) {
      // The body is still arriving: append and wait, nothing to scan.
      this.append(chunk);
      return;
    }
    let data: Buffer;
    if (this.pending) {
      this.append(chunk);
      data = this.pending.subarray(0, this.length);
    } else {
      // Nothing pending: frame straight from the chunk (no copy).
      data = chunk;
    }
    this.frame(data);
  }

  /** Bytes waiting for the rest of a message. */
  get buffered(): number {
    return this.pending ? this.length : 0;
  }

  /** Date.now() when the oldest byte of the unfinished message arrived, 0 when nothing is pending. */
  get pendingSince(): number {
    if (!this.pending) return 0;
    // A keep-alive CRLF or two waiting for its pair is not an unfinished message.
    if (this.length < 4 && isPingPrefix(this.pending, 0, this.length)) return 0;
    return this.since;
  }

  private frame(data: Buffer): void {
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
        this.resetScan();
        continue;
      }
      if (this.need > 0 && n - pos < this.need) break; // body still arriving (head already known)
      const from = Math.max(pos, this.scanFrom - 3);
      const headEnd = data.indexOf(CRLFCRLF, from);
      this.work.scanned += (headEnd < 0 ? n : headEnd + 4) - from;
      if (headEnd < 0) {
        if (n - pos > this.maxMessageSize) return this.fail(`message larger than ${this.maxMessageSize} bytes`);
        // Do not wait for the rest of what cannot be SIP: a start line holds no control characters.
        if (this.startLineChecked >= 0) {
          const checkFrom = Math.max(pos, pos + this.startLineChecked - 1);
          this.work.scanned += n - checkFrom;
          const verdict = plausibleStartLine(data, checkFrom, n);
          if (verdict === false) return this.fail('not a SIP start line');
          // Once the start line has ended well, there is nothing more to check.
          this.startLineChecked = verdict === 'ended' ? -1 : n - pos;
        }
        this.scanFrom = n;
        break;
      }
      this.work.scanned += headEnd - pos;
      const head = parseHead(data, pos, headEnd);
      const bodyStart = headEnd + 4;
      // RFC 3261 18.3: Content-Length is mandatory on streams; a missing one is taken as 0.
      const length = head.contentLength ?? 0;
      if (bodyStart + length - pos > this.maxMessageSize) return this.fail(`message larger than ${this.maxMessageSize} bytes`);
      if (!head.ok && head.contentLength === undefined) return this.fail(`unparseable message: ${head.error}`);
      if (bodyStart + length > n) {
        this.scanFrom = headEnd;
        this.need = bodyStart + length - pos;
        break;
      }
      this.resetScan();
      const end = bodyStart + length;
      // The message refers to these bytes (no copy): the buffer holding them is never written again.
      if (head.ok) this.on.message(attach(head.message, data, pos, bodyStart, end));
      else this.on.malformed(head.error);
      pos = end;
      if (this.dead) return;
    }
    if (pos >= n) {
      this.pending = undefined;
      this.length = 0;
      this.resetScan();
    } else if (pos > 0 || !this.pending) {
      // Keep the unfinished rest in a fresh buffer: messages just handed out may still refer to the old one.
      if (pos > 0) this.scanFrom = Math.max(0, this.scanFrom - pos);
      const rest = data.subarray(pos);
      const buf = Buffer.allocUnsafe(Math.max(rest.length * 2, 512));
      rest.copy(buf);
      this.work.copied += rest.length;
      this.since = Date.now();
      this.pending = buf;
      this.length = rest.length;
    }
  }

  private append(chunk: Buffer): void {
    const pending = this.pending!;
    if (this.length + chunk.length > pending.length) {
      const grown = Buffer.allocUnsafe(Math.max(pending.length * 2, this.length + chunk.length));
      pending.copy(grown, 0, 0, this.length);
      this.work.copied += this.length;
      this.pending = grown;
    }
    chunk.copy(this.pending!, this.length);
    this.work.copied += chunk.length;
    this.length += chunk.length;
  }

  private resetScan(): void {
    this.scanFrom = 0;
    this.startLineChecked = 0;
    this.need = 0;
  }

  private fail(error: string): void {
    this.dead = true;
    this.pending = undefined;
    this.length = 0;
    this.on.fatal(error);
  }
}
