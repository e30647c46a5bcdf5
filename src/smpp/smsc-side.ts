// The client part of an SMPP session: one upstream SMSC connection and its state machine (INITIAL → OPEN →
// BINDING → BOUND ↔ REBINDING → UNBINDING → CLOSED, changed only in updateState), what it answers itself,
// and its timers. Where the SMSC's requests and responses go is its owner's business.

import type { HostPort } from '../config/types.js';
import type { Logger } from '../log.js';
import type { PduConnection } from './connection.js';
import { supervise, type SmppContext } from './context.js';
import type { TakenEntry } from './esme-side.js';
import { InflightTable, type InflightEntry } from './inflight.js';
import { Cmd, Status, commandId, commandName, encodePdu, errorResponseFor, genericNack, isResponse, sequenceNumber, setSequenceNumber, type BindFields } from './pdu.js';
import { connectAndBind, type BindOutcome } from './smsc-connect.js';

/** Client part (SMSC side) states, as the manual lists them. */
export type SmscState = 'INITIAL' | 'OPEN' | 'BINDING' | 'BOUND' | 'REBINDING' | 'UNBINDING' | 'CLOSED';

/** The transitions the client part may make; anything else is a bug, logged and refused. */
const NEXT: Readonly<Record<SmscState, readonly SmscState[]>> = {
  // A failed first attempt goes back to INITIAL (regular mode tries the next SMSC) or to REBINDING (retried later).
  INITIAL: ['OPEN', 'REBINDING', 'CLOSED'],
  OPEN: ['BINDING', 'INITIAL', 'REBINDING', 'CLOSED'],
  BINDING: ['BOUND', 'INITIAL', 'REBINDING', 'CLOSED'],
  BOUND: ['REBINDING', 'UNBINDING', 'CLOSED'],
  REBINDING: ['OPEN', 'UNBINDING', 'CLOSED'],
  UNBINDING: ['CLOSED'],
  CLOSED: [],
};

/** Requests an SMSC may send to a bound ESME, handed to the owner to relay. */
const SMSC_REQUESTS = new Set<number>([Cmd.deliver_sm, Cmd.data_sm, Cmd.unbind, Cmd.alert_notification]);

/** What the SMSC side asks of whoever owns it. */
export interface SmscOwner {
  /** A request from the BOUND SMSC: renumber it and return where it goes, or answer it and return undefined. */
  smscRequest(smsc: SmscSide, pdu: Buffer, id: number, seq: number): PduConnection | undefined;
  /** The SMSC's response to a request relayed to it (its number not yet restored). */
  smscResponse(smsc: SmscSide, pdu: Buffer, id: number, entry: TakenEntry): PduConnection | undefined;
  /** A request relayed to the SMSC got no answer: `expired` after timeoutResponse, else the connection was lost. */
  smscUnanswered(smsc: SmscSide, entry: InflightEntry, expired: boolean): void;
  /** The bound connection dropped, sent garbage or stopped answering enquire_link (the side is REBINDING now). */
  smscLost(smsc: SmscSide, why: string): void;
}

let nextSmscId = 1;

export class SmscSide {
  readonly id = nextSmscId++;
  /** The SMSC this side is bound (or binding) to. */
  server: HostPort | undefined;
  /** The bound connection. */
  conn: PduConnection | undefined;
  /** Requests relayed to the SMSC, keyed by this connection's sequence numbers. */
  toSmsc = new InflightTable();
  private current: SmscState = 'INITIAL';
  private lastEnquireAt = 0;

  constructor(
    private readonly ctx: SmppContext,
    private readonly owner: SmscOwner,
    private readonly log: Logger,
  ) {}

  get state(): SmscState {
    return this.current;
  }

  get name(): string {
    return this.server === undefined ? '(none)' : `${this.server.host}:${this.server.port}`;
  }

  /** The one place the state changes. False (and nothing changes) for the same state or a transition the machine does not have. */
  private updateState(next: SmscState, why: string): boolean {
    const previous = this.current;
    if (previous === next) return false;
    if (!NEXT[previous].includes(next)) {
      this.log.error(`SMSC side ${this.name}: no transition ${previous} -> ${next} (${why}); staying ${previous}`);
      return false;
    }
    this.current = next;
    this.log.debug(`SMSC side ${this.name} ${previous} -> ${next}: ${why}`);
    return true;
  }

  // ───────────── binding ─────────────

  /**
   * Connects to `server` and binds with `fields` (INITIAL or REBINDING → OPEN → BINDING → BOUND). On failure
   * the side goes back to where it started. Resolves with the SMSC's answer; never rejects.
   */
  async bindTo(server: HostPort, fields: BindFields): Promise<BindOutcome> {
    const from = this.current;
    if (from !== 'INITIAL' && from !== 'REBINDING') return { error: `SMSC side is ${from}` };
    this.server = server;
    this.toSmsc = new InflightTable();
    const { stats } = this.ctx;
    const outcome = await connectAndBind(server, fields, this.toSmsc.nextSequence(), {
      ...this.ctx.connect,
      countBytes: (n) => (stats.bytesToServer += n),
      countBind: this.ctx.countSessionBytes,
      onSocketOpen: () => stats.activeConnections++,
      onSocketClose: () => stats.activeConnections--,
      onConnected: () => {
        this.updateState('OPEN', 'connected');
        this.updateState('BINDING', `${commandName(fields.commandId)} as ${fields.systemId}`);
      },
    });
    if (this.current === 'CLOSED' || this.current === 'UNBINDING') {
      // Closed while binding: the answer is of no use any more.
      outcome.conn?.destroy();
      return { resp: outcome.resp, error: 'closed while binding' };
    }
    if (outcome.conn === undefined) {
      if (this.current === 'OPEN' || this.current === 'BINDING') this.updateState(from, outcome.error ?? 'bind failed');
      this.ctx.warnings.warn('smsc-bind-failed', `SMSC ${server.host}:${server.port} did not bind: ${outcome.error}`);
      return outcome;
    }
    this.attach(outcome.conn);
    return outcome;
  }

  private attach(conn: PduConnection): void {
    this.updateState('BOUND', 'bind_resp OK');
    this.conn = conn;
    conn.enquireSentAt = 0;
    conn.onPdu = (pdu) => this.receive(pdu);
    conn.onFramingError = () => {
      this.ctx.warnings.warn('smsc-bad-length', `SMSC ${this.name} sent a bad command_length: closing that connection`);
      this.lose(conn, 'bad command_length');
    };
    conn.socket.once('close', () => this.lose(conn, 'connection closed'));
    this.lastEnquireAt = Date.now();
  }

  // ───────────── PDUs from the SMSC ─────────────

  /** Returns where the PDU (renumbered in place) is relayed as it is, or undefined when it was consumed. */
  private receive(pdu: Buffer): PduConnection | undefined {
    const state = this.current;
    const conn = this.conn;
    if ((state !== 'BOUND' && state !== 'UNBINDING') || conn === undefined) return undefined;
    const id = commandId(pdu);
    const seq = sequenceNumber(pdu);
    if (isResponse(id)) {
      const table = this.toSmsc;
      if (!table.take(seq) || table.taken.commandId === Cmd.enquire_link) return undefined; // our probe, or late after timeoutResponse
      if (state === 'UNBINDING') {
        if (id === Cmd.unbind_resp) this.drop('SMSC answered unbind');
        return undefined;
      }
      return this.owner.smscResponse(this, pdu, id, table.taken);
    }
    if (id === Cmd.enquire_link) {
      conn.write(encodePdu(Cmd.enquire_link_resp, Status.ESME_ROK, seq));
      return undefined;
    }
    if (state !== 'BOUND') {
      conn.write(errorResponseFor(id, Status.ESME_RSYSERR, seq));
      return undefined;
    }
    if (!SMSC_REQUESTS.has(id)) {
      this.ctx.stats.rejected.inc('invalid-command-id-from-smsc');
      this.log.debug(`SMSC sent ${commandName(id)}: generic_nack ESME_RINVCMDID`);
      conn.write(genericNack(Status.ESME_RINVCMDID, seq));
      return undefined;
    }
    return this.owner.smscRequest(this, pdu, id, seq);
  }

  // ───────────── what the owner does with it ─────────────

  /** Renumbers a request from the ESME side onto this connection, counts it, and returns where it goes. */
  forward(pdu: Buffer, id: number, seq: number, now: number, origin = 0): PduConnection {
    setSequenceNumber(pdu, this.toSmsc.add(seq, id, now + this.ctx.config.timeoutResponseMs, origin));
    this.ctx.stats.requestsToServer++;
    this.ctx.stats.requestsByCommand.incId(id);
    return this.conn!;
  }

  /**
   * The SMSC's unbind (sequence number `seq`) answered by the broker itself (mux mode): the connection closes
   * once the unbind_resp is out, and the side goes BOUND → REBINDING as for a lost connection.
   */
  unboundBySmsc(seq: number): void {
    const conn = this.conn;
    if (conn === undefined) return;
    conn.flushRun();
    conn.write(encodePdu(Cmd.unbind_resp, Status.ESME_ROK, seq), this.ctx.countSessionBytes);
    this.lose(conn, 'SMSC unbound', true);
  }

  /** BOUND → REBINDING: the connection is gone; what was in flight goes back to the owner, unanswered. */
  private lose(conn: PduConnection, why: string, graceful = false): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    if (graceful) conn.close();
    else conn.destroy();
    if (this.current !== 'BOUND') {
      this.updateState('CLOSED', why);
      return;
    }
    this.updateState('REBINDING', why);
    this.toSmsc.drain((entry) => {
      if (entry.commandId !== Cmd.enquire_link) this.owner.smscUnanswered(this, entry, false);
    });
    this.owner.smscLost(this, why);
  }

  /** The owner gives up on this side (no SMSC reachable): REBINDING → CLOSED. */
  giveUp(why: string): void {
    this.updateState('CLOSED', why);
  }

  /** → UNBINDING: sends unbind; closes on unbind_resp, or after timeoutResponse. Without a connection: → CLOSED. */
  unbind(why: string): void {
    const conn = this.conn;
    if (conn === undefined || conn.closed) {
      this.drop(why);
      return;
    }
    if (!this.updateState('UNBINDING', why)) return;
    this.toSmsc.drain(() => undefined);
    const timeout = this.ctx.config.timeoutResponseMs;
    conn.write(encodePdu(Cmd.unbind, 0, this.toSmsc.add(0, Cmd.unbind, Date.now() + timeout)), this.ctx.countSessionBytes);
    setTimeout(() => this.drop('no unbind_resp'), timeout).unref();
  }

  /** → CLOSED at once: closes the connection (after flushing what was written). */
  drop(why: string): void {
    const conn = this.conn;
    this.conn = undefined;
    this.updateState('CLOSED', why);
    conn?.close();
  }

  /** Stops at once (daemon shutdown): unbind a bound SMSC without waiting for its answer. */
  shutdown(): void {
    if (this.conn !== undefined && this.current === 'BOUND') this.conn.write(encodePdu(Cmd.unbind, 0, this.toSmsc.nextSequence()));
    this.drop('shutdown');
  }

  // ───────────── timers (driven by the broker's sweep) ─────────────

  /** One sweep step: response deadlines and enquire_link supervision. */
  sweep(now: number): void {
    const { config } = this.ctx;
    this.toSmsc.expire(now, (entry) => {
      if (entry.commandId !== Cmd.enquire_link && entry.commandId !== Cmd.unbind) this.owner.smscUnanswered(this, entry, true);
    });
    const conn = this.conn;
    if (this.current !== 'BOUND' || conn === undefined) return;
    const check = config.timeoutConnectionCheckServerSideMs;
    switch (supervise(this.ctx, now, conn.lastReceivedAt, conn.enquireSentAt, this.lastEnquireAt, check)) {
      case 'dead':
        this.ctx.warnings.warn('smsc-silent', `SMSC ${this.name} silent for ${(this.ctx.idleSupervision ? 3 : 1) * check} ms after enquire_link`);
        this.lose(conn, 'SMSC does not answer enquire_link');
        return;
      case 'send-enquire':
        this.lastEnquireAt = now;
        conn.enquireSentAt = now;
        conn.write(encodePdu(Cmd.enquire_link, 0, this.toSmsc.add(0, Cmd.enquire_link, now + config.timeoutResponseMs)));
        return;
      case 'ok':
        return;
    }
  }
}
