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
   * Set by the owner: called for each complete PDU. Returning a connection means "relay it there as it is
   * now" (after the owner patched its sequence number in place); the bytes of consecutive PDUs of one
   * chunk relayed to the same connection then go out in a single write, without copying.
   */
  onPdu: (pdu: Buffer) => PduConnection | undefined = () => undefined;
  /** Set by the owner: called for a bad command_length, after the generic_nack went out. */
  onFramingError: (err: FramingError) => void = () => undefined;
  /** Date.now() of the chunk being processed: one clock read per chunk, not per PDU. */
  now: number;
  /** The run of relayed PDUs not yet written: a range of the buffer being framed, and where it goes. */
  private runBuffer: Buffer | undefined;
  private runTarget: PduConnection | undefined;
  private runStart = 0;
  private runEnd = 0;
  /** True while this socket is paused until a full target drains. */
  private waitingForDrain = false;

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
      (pdu, data, offset) => {
        this.lastReceivedAt = this.now;
        const target = this.onPdu(pdu);
        if (target !== undefined) this.addToRun(target, data, offset, pdu.length);
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
      this.framer.push(chunk);
      this.flushRun();
    });
  }

  private addToRun(target: PduConnection, data: Buffer, offset: number, length: number): void {
    if (this.runBuffer === data && this.runTarget === target && offset === this.runEnd) {
      this.runEnd += length;
      return;
    }
    this.flushRun();
    this.runBuffer = data;
    this.runTarget = target;
    this.runStart = offset;
    this.runEnd = offset + length;
  }

  /** Writes the pending run of relayed PDUs to its target; pauses this socket until a full target drains. */
  flushRun(): void {
    const data = this.runBuffer;
    const target = this.runTarget;
    if (data === undefined || target === undefined) return;
    this.runBuffer = undefined;
    this.runTarget = undefined;
    if (target.closed) return;
    const bytes = this.runStart === 0 && this.runEnd === data.length ? data : data.subarray(this.runStart, this.runEnd);
    if (!target.write(bytes)) this.waitFor(target);
  }

  /** Back-pressure: stop reading this peer until `target` has written out what it holds. */
  private waitFor(target: PduConnection): void {
    if (this.waitingForDrain) return;
    this.waitingForDrain = true;
    this.socket.pause();
    const resume = (): void => {
      target.socket.off('drain', resume);
      target.socket.off('close', resume);
      this.waitingForDrain = false;
      if (!this.closed) this.socket.resume();
    };
    target.socket.on('drain', resume);
    target.socket.on('close', resume);
  }

  /**
   * Writes a PDU; false when the socket's buffer is full (the caller may pause its source). `counted` false
   * leaves it out of the byte counters (mux mode does not count bind and unbind bytes, as the original).
   */
  write(pdu: Buffer, counted = true): boolean {
    if (this.closed) return true;
    if (counted) this.countBytes(pdu.length);
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
