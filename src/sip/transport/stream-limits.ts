// Limits shared by every SIP stream listening point (TCP, TLS, WS, WSS): at most sipMaxConnections inbound
// connections together (more are closed at once, counted), and an unfinished message older than
// sipMessageTimeout closes its connection, found by one coarse sweep timer, not a timer per connection.

import type { Socket } from 'node:net';
import type { Logger } from '../../log.js';
import type { SipStats } from '../sip-stats.js';
import { guardedInterval } from '../../timers.js';

/** What the sweep needs of a connection's framer: since when an unfinished message waits (0: none). */
export interface PendingClock {
  readonly pendingSince: number;
}

export class StreamLimits {
  private open = 0;
  private readonly watched = new Map<Socket, PendingClock>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly maxConnections: number,
    private readonly messageTimeoutMs: number,
    private readonly stats: SipStats,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Inbound connections open now, all stream transports together. */
  get connections(): number {
    return this.open;
  }

  /** Counts an inbound connection; over the limit closes it at once and returns false. */
  admit(socket: Socket, transport: string): boolean {
    if (this.maxConnections > 0 && this.open >= this.maxConnections) {
      this.stats.dropped.inc('too-many-connections');
      this.log.debug(`Refusing a ${transport} connection from ${socket.remoteAddress}: sipMaxConnections (${this.maxConnections}) reached`);
      socket.destroy();
      return false;
    }
    this.open++;
    socket.once('close', () => this.open--);
    return true;
  }

  /** Watches a connection's unfinished message for sipMessageTimeout. */
  watch(socket: Socket, framer: PendingClock): void {
    if (this.messageTimeoutMs <= 0) return;
    this.watched.set(socket, framer);
    socket.once('close', () => this.watched.delete(socket));
    if (!this.timer) {
      this.timer = guardedInterval('SIP stream deadline sweep', Math.max(100, Math.min(1000, this.messageTimeoutMs / 4)), () => this.sweep(), this.log);
    }
  }

  sweep(): void {
    const deadline = this.now() - this.messageTimeoutMs;
    for (const [socket, framer] of this.watched) {
      const since = framer.pendingSince;
      if (since === 0 || since > deadline) continue;
      this.stats.dropped.inc('message-timeout');
      this.log.debug(`Closing a SIP connection from ${socket.remoteAddress}: a message unfinished after ${this.messageTimeoutMs} ms`);
      this.watched.delete(socket);
      socket.destroy();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.watched.clear();
  }
}
