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
  /** Set by the owner: called for each complete PDU. */
  onPdu: (pdu: Buffer) => void = () => undefined;
  /** Set by the owner: called for a bad command_length, after the generic_nack went out. */
  onFramingError: (err: FramingError) => void = () => undefined;
  /** Another connection whose writes are batched (cork/uncork) while one chunk of ours is processed. */
  peer: PduConnection | undefined;

  constructor(
    socket: Socket,
    maxPduSize: number,
    private readonly countBytes: (n: number) => void,
    now: number,
  ) {
    this.socket = socket;
    this.lastReceivedAt = now;
    socket.setNoDelay(true);
    this.framer = new PduFramer(
      maxPduSize,
      (pdu) => {
        this.lastReceivedAt = Date.now();
        this.onPdu(pdu);
      },
      (err) => {
        this.write(genericNack(Status.ESME_RINVCMDLEN, err.sequence));
        this.onFramingError(err);
      },
    );
    socket.on('data', (chunk: Buffer) => {
      const peer = this.peer;
      if (peer === undefined || peer.closed) {
        this.framer.push(chunk);
        return;
      }
      // Every PDU of a chunk goes out in one writev to the peer.
      peer.socket.cork();
      this.framer.push(chunk);
      peer.socket.uncork();
    });
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
