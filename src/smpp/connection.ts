// One SMPP TCP/TLS connection as the broker sees it: a socket, its framer, liveness for enquire_link
// supervision, and byte counting. Which side it is (ESME or SMSC) is the session's business.

import type { Socket } from 'node:net';
import { PduFramer, genericNack, Status, type FramingError } from './pdu.js';

export class PduConnection {
  readonly socket: Socket;
  readonly framer: PduFramer;
  /** When the last PDU arrived (enquire_link supervision: any PDU counts as a sign of life). */
  lastReceivedAt: number;
  /** When the broker's unanswered enquire_link went out, or 0. */
  enquireSentAt = 0;
  closed = false;
  /**
   * Set by the owner: called for each complete PDU. Returning true means "relay it to the peer as it is
   * now" (after the owner patched its sequence number in place); the bytes of consecutive relayed PDUs of
   * one chunk then go out in a single write, without copying.
   */
  onPdu: (pdu: Buffer) => boolean = () => false;
  /** Set by the owner: called for a bad command_length, after the generic_nack went out. */
  onFramingError: (err: FramingError) => void = () => undefined;
  /** Where relayed PDUs go. */
  peer: PduConnection | undefined;
  /** Date.now() of the chunk being processed: one clock read per chunk, not per PDU. */
  now: number;
  /** The run of relayed PDUs not yet written: a range of one buffer. */
  private runBuffer: Buffer | undefined;
  private runStart = 0;
  private runEnd = 0;
  /** The chunk being framed: written as it is when every PDU in it is relayed (the common case). */
  private chunk: Buffer | undefined;

  constructor(
    socket: Socket,
    maxPduSize: number,
    private readonly countBytes: (n: number) => void,
    now: number,
  ) {
    this.socket = socket;
    this.lastReceivedAt = now;
    this.now = now;
    socket.setNoDelay(true);
    this.framer = new PduFramer(
      maxPduSize,
      (pdu) => {
        this.lastReceivedAt = this.now;
        if (this.onPdu(pdu)) this.addToRun(pdu);
        else this.flushRun();
      },
      (err) => {
        this.flushRun();
        this.write(genericNack(Status.ESME_RINVCMDLEN, err.sequence));
        this.onFramingError(err);
      },
    );
    socket.on('data', (chunk: Buffer) => {
      this.now = Date.now();
      this.chunk = chunk;
      this.framer.push(chunk);
      this.flushRun();
      this.chunk = undefined;
    });
  }

  private addToRun(pdu: Buffer): void {
    const run = this.runBuffer;
    if (run !== undefined && pdu.buffer === run.buffer && pdu.byteOffset === this.runEnd) {
      this.runEnd += pdu.length;
      return;
    }
    this.flushRun();
    this.runBuffer = pdu;
    this.runStart = pdu.byteOffset;
    this.runEnd = pdu.byteOffset + pdu.length;
  }

  /** Writes the pending run of relayed PDUs to the peer; pauses this socket when the peer is full. */
  flushRun(): void {
    const run = this.runBuffer;
    if (run === undefined) return;
    this.runBuffer = undefined;
    const peer = this.peer;
    if (peer === undefined || peer.closed) return;
    const chunk = this.chunk;
    const length = this.runEnd - this.runStart;
    let bytes: Buffer;
    if (chunk !== undefined && chunk.buffer === run.buffer && chunk.byteOffset === this.runStart && chunk.length === length) bytes = chunk;
    else if (run.byteOffset === this.runStart && run.length === length) bytes = run;
    else bytes = Buffer.from(run.buffer, this.runStart, length);
    if (!peer.write(bytes)) this.socket.pause();
  }

  /** Writes a PDU; false when the socket's buffer is full (the caller may pause its source). */
  write(pdu: Buffer): boolean {
    if (this.closed) return true;
    this.countBytes(pdu.length);
    return this.socket.write(pdu);
  }

  /** Flushes what was written and closes; a peer that does not close is destroyed after `graceMs`. */
  close(graceMs = 1000): void {
    if (this.closed) return;
    this.closed = true;
    this.framer.stop();
    this.socket.end();
    const timer = setTimeout(() => this.socket.destroy(), graceMs);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  destroy(): void {
    this.closed = true;
    this.framer.stop();
    this.socket.destroy();
  }

  get remote(): string {
    return `${this.socket.remoteAddress}:${this.socket.remotePort}`;
  }
}
