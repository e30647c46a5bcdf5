// The server part of an SMPP session: one ESME connection and its state machine (OPEN → BINDING → BOUND ↔
// REBINDING → UNBINDING → CLOSED, changed only in updateState), what it answers itself, and its timers.
// Where a bound ESME's requests go is its owner's business (a regular-mode session or a mux user space).

import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import { PduConnection } from './connection.js';
import { supervise, type SmppContext } from './context.js';
import { InflightTable, type InflightEntry } from './inflight.js';
import {
  Cmd,
  Status,
  commandId,
  commandName,
  decodeBind,
  encodePdu,
  errorResponseFor,
  genericNack,
  isBind,
  isResponse,
  sequenceNumber,
  setSequenceNumber,
  type BindFields,
} from './pdu.js';

/** Server part (ESME side) states, as the manual lists them. */
export type EsmeState = 'OPEN' | 'BINDING' | 'BOUND' | 'REBINDING' | 'UNBINDING' | 'CLOSED';

/** The transitions the server part may make; anything else is a bug, logged and refused. */
const NEXT: Readonly<Record<EsmeState, readonly EsmeState[]>> = {
  OPEN: ['BINDING', 'CLOSED'],
  BINDING: ['BOUND', 'CLOSED'],
  BOUND: ['REBINDING', 'UNBINDING', 'CLOSED'],
  REBINDING: ['BOUND', 'UNBINDING', 'CLOSED'],
  UNBINDING: ['CLOSED'],
  CLOSED: [],
};

/** Requests an ESME may send once bound, handed to the owner to relay. */
const ESME_REQUESTS = new Set<number>([
  Cmd.submit_sm, Cmd.submit_multi, Cmd.data_sm, Cmd.query_sm, Cmd.cancel_sm, Cmd.replace_sm, Cmd.unbind,
  Cmd.broadcast_sm, Cmd.query_broadcast_sm, Cmd.cancel_broadcast_sm,
]);

/** The entry of a response's request, as InflightTable.take() leaves it. */
export interface TakenEntry {
  readonly originalSeq: number;
  readonly commandId: number;
  readonly origin: number;
}

/** What the ESME side asks of whoever owns it. */
export interface EsmeOwner {
  /** The ESME sent a bind (the side is now BINDING): answer with accept() or refuse(). */
  esmeBind(esme: EsmeSide, fields: BindFields): void;
  /** A request from the BOUND ESME: renumber it and return where it goes, or answer it and return undefined. */
  esmeRequest(esme: EsmeSide, pdu: Buffer, id: number, seq: number): PduConnection | undefined;
  /** The ESME's response to a request relayed to it (its number not yet restored). */
  esmeResponse(esme: EsmeSide, pdu: Buffer, id: number, entry: TakenEntry): PduConnection | undefined;
  /** A request relayed to the ESME got no answer: `expired` after timeoutResponse, else the ESME went away. */
  esmeUnanswered(esme: EsmeSide, entry: InflightEntry, expired: boolean): void;
  /** The side closed, for whatever reason; called once. */
  esmeClosed(esme: EsmeSide): void;
}

let nextEsmeId = 1;

export class EsmeSide {
  readonly id = nextEsmeId++;
  readonly conn: PduConnection;
  readonly log: Logger;
  readonly openedAt: number;
  /** Requests relayed or sent to the ESME, keyed by this connection's sequence numbers. */
  readonly toEsme = new InflightTable();
  private current: EsmeState = 'OPEN';
  private fields: BindFields | undefined;
  private bindSeq = 0;
  private lastEnquireAt: number;

  constructor(
    socket: Socket,
    private readonly ctx: SmppContext,
    private owner: EsmeOwner,
    now: number,
  ) {
    const { stats } = ctx;
    this.openedAt = now;
    this.lastEnquireAt = now;
    this.conn = new PduConnection(socket, ctx.config.maxPduSize, (n) => (stats.bytesToClient += n), now);
    this.log = ctx.log.child({ esme: this.conn.remote, esmeId: this.id });
    stats.activeConnections++;
    this.conn.onPdu = (pdu) => this.receive(pdu);
    this.conn.onFramingError = (err) => {
      stats.rejected.inc('bad-command-length');
      // Counted, and logged at debug only: a peer sending garbage must not flood the log.
      this.log.debug(`ESME sent command_length ${err.commandLength}: generic_nack ESME_RINVCMDLEN and close`);
      this.close('bad command_length');
    };
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'ESME socket error'));
    socket.once('close', () => {
      stats.activeConnections--;
      this.conn.closed = true;
      if (this.current !== 'CLOSED') this.log.debug('ESME disconnected');
      this.close('ESME disconnected');
    });
    this.log.debug('ESME connected');
  }

  get state(): EsmeState {
    return this.current;
  }

  /** The ESME's bind, once it sent one. */
  get bind(): BindFields | undefined {
    return this.fields;
  }

  /** Hands the side to another owner (mux mode: from the lobby to the user space of its system_id, at bind). */
  moveTo(owner: EsmeOwner): void {
    this.owner = owner;
  }

  /** The one place the state changes. False (and nothing changes) for the same state or a transition the machine does not have. */
  private updateState(next: EsmeState, why: string): boolean {
    const previous = this.current;
    if (previous === next) return false;
    if (!NEXT[previous].includes(next)) {
      this.log.error(`ESME side: no transition ${previous} -> ${next} (${why}); staying ${previous}`);
      return false;
    }
    this.current = next;
    this.log.debug(`ESME side ${previous} -> ${next}: ${why}`);
    return true;
  }

  // ───────────── PDUs from the ESME ─────────────

  /** Returns where the PDU (renumbered in place) is relayed as it is, or undefined when it was consumed. */
  private receive(pdu: Buffer): PduConnection | undefined {
    const id = commandId(pdu);
    const seq = sequenceNumber(pdu);
    const { stats } = this.ctx;
    switch (this.current) {
      case 'OPEN':
        if (!isBind(id)) {
          stats.rejected.inc('not-bound');
          this.log.debug(`${commandName(id)} before bind: generic_nack ESME_RINVCMDID and close`);
          this.conn.write(genericNack(Status.ESME_RINVCMDID, seq));
          this.close('request before bind');
          return undefined;
        }
        this.startBind(pdu, id, seq);
        return undefined;
      case 'BOUND':
        if (isResponse(id)) {
          // Unknown: answered late after timeoutResponse. enquire_link: our own probe.
          if (!this.toEsme.take(seq) || this.toEsme.taken.commandId === Cmd.enquire_link) return undefined;
          return this.owner.esmeResponse(this, pdu, id, this.toEsme.taken);
        }
        if (ESME_REQUESTS.has(id)) return this.owner.esmeRequest(this, pdu, id, seq);
        this.answerLocally(id, seq);
        return undefined;
      case 'BINDING':
      case 'REBINDING':
        if (isResponse(id)) return undefined; // nothing to relay a response to
        if (this.current === 'REBINDING' && id === Cmd.unbind) {
          this.unbound(seq, 'ESME unbound while rebinding');
          return undefined;
        }
        if (id === Cmd.enquire_link) {
          this.answerLocally(id, seq);
          return undefined;
        }
        // The manual: "it turns back all received packets" until the client part is bound again.
        stats.rejected.inc(this.current === 'BINDING' ? 'binding' : 'rebinding');
        this.conn.write(errorResponseFor(id, this.current === 'BINDING' ? Status.ESME_RINVBNDSTS : Status.ESME_RSYSERR, seq));
        return undefined;
      case 'UNBINDING':
        if (id === Cmd.unbind_resp) this.close('ESME answered unbind');
        else if (!isResponse(id)) this.conn.write(errorResponseFor(id, Status.ESME_RSYSERR, seq));
        return undefined;
      case 'CLOSED':
        return undefined;
    }
  }

  /** enquire_link, a second bind and unknown commands: answered by the broker itself. */
  private answerLocally(id: number, seq: number): void {
    const { stats } = this.ctx;
    if (id === Cmd.enquire_link) {
      this.conn.write(encodePdu(Cmd.enquire_link_resp, Status.ESME_ROK, seq));
    } else if (isBind(id)) {
      stats.rejected.inc('already-bound');
      this.conn.write(errorResponseFor(id, Status.ESME_RALYBND, seq));
    } else {
      stats.rejected.inc('invalid-command-id');
      this.log.debug(`ESME sent ${commandName(id)}: generic_nack ESME_RINVCMDID`);
      this.conn.write(genericNack(Status.ESME_RINVCMDID, seq));
    }
  }

  private startBind(pdu: Buffer, id: number, seq: number): void {
    let fields: BindFields;
    try {
      fields = decodeBind(pdu);
    } catch {
      this.ctx.stats.rejected.inc('bad-bind');
      this.conn.write(errorResponseFor(id, Status.ESME_RBINDFAIL, seq));
      this.close('malformed bind');
      return;
    }
    this.fields = fields;
    this.bindSeq = seq;
    this.updateState('BINDING', `${commandName(id)} from ${fields.systemId}`);
    this.ctx.stats.requestsByCommand.incId(id);
    this.owner.esmeBind(this, fields);
  }

  // ───────────── what the owner does with it ─────────────

  /** Renumbers a request from the SMSC side onto this connection, counts it, and returns where it goes. */
  forward(pdu: Buffer, id: number, seq: number, now: number, origin = 0): PduConnection {
    // alert_notification has no response: renumber it, but nothing waits for an answer.
    const newSeq = id === Cmd.alert_notification
      ? this.toEsme.nextSequence()
      : this.toEsme.add(seq, id, now + this.ctx.config.timeoutResponseMs, origin);
    setSequenceNumber(pdu, newSeq);
    this.ctx.stats.requestsToClient++;
    this.ctx.stats.requestsByCommand.incId(id);
    return this.conn;
  }

  /** BINDING → BOUND: sends `resp` (a bind_resp) with the ESME's own sequence number. */
  accept(resp: Buffer, why: string): boolean {
    if (!this.updateState('BOUND', why)) return false;
    setSequenceNumber(resp, this.bindSeq);
    this.conn.write(resp, this.ctx.countSessionBytes);
    this.ctx.stats.responsesByCommand.incId(commandId(resp));
    this.lastEnquireAt = Date.now();
    return true;
  }

  /** BINDING → CLOSED: answers the bind with `status`. */
  refuse(status: number, why: string): void {
    if (this.current !== 'BINDING') return;
    this.conn.write(errorResponseFor(this.fields?.commandId ?? Cmd.bind_transceiver, status, this.bindSeq), this.ctx.countSessionBytes);
    this.close(why);
  }

  /** The ESME's unbind (sequence number `seq`) answered by the broker itself; then → CLOSED. */
  unbound(seq: number, why: string): void {
    this.conn.flushRun();
    this.conn.write(encodePdu(Cmd.unbind_resp, Status.ESME_ROK, seq), this.ctx.countSessionBytes);
    this.close(why);
  }

  /** BOUND → REBINDING: requests are turned back with 0x08 until rebound; what was sent to it is forgotten. */
  rebinding(why: string): void {
    if (!this.updateState('REBINDING', why)) return;
    this.toEsme.drain(() => undefined);
  }

  /** REBINDING → BOUND. */
  rebound(why: string): void {
    if (this.updateState('BOUND', why)) this.lastEnquireAt = Date.now();
  }

  /** → UNBINDING: sends unbind; closes on unbind_resp, or after timeoutResponse. */
  unbind(why: string): void {
    if (!this.updateState('UNBINDING', why)) return;
    this.conn.write(encodePdu(Cmd.unbind, 0, this.toEsme.nextSequence()), this.ctx.countSessionBytes);
    setTimeout(() => this.close(why), this.ctx.config.timeoutResponseMs).unref();
  }

  /** → CLOSED: what the ESME was asked and did not answer goes back to the owner; then the owner is told. Idempotent. */
  close(why: string, graceMs?: number): void {
    if (!this.updateState('CLOSED', why)) return;
    this.conn.close(graceMs);
    this.toEsme.drain((entry) => {
      if (entry.commandId !== Cmd.enquire_link) this.owner.esmeUnanswered(this, entry, false);
    });
    this.owner.esmeClosed(this);
  }

  /** Stops at once (daemon shutdown): unbind a bound ESME without waiting for its answer. */
  shutdown(): void {
    if (this.current === 'BOUND') this.conn.write(encodePdu(Cmd.unbind, 0, this.toEsme.nextSequence()));
    this.close('shutdown', 200);
  }

  // ───────────── timers (driven by the broker's sweep) ─────────────

  /** One sweep step: bind deadline, response deadlines, enquire_link supervision. */
  sweep(now: number): void {
    const { config, stats } = this.ctx;
    if (this.current === 'CLOSED') return;
    if (this.current === 'OPEN') {
      if (now - this.openedAt >= config.timeoutConnectionMs) {
        stats.notBindClients++;
        this.log.debug(`no bind within timeoutConnection (${config.timeoutConnectionMs} ms): closing`);
        this.close('no bind in time');
      }
      return;
    }
    this.toEsme.expire(now, (entry) => {
      if (entry.commandId !== Cmd.enquire_link) this.owner.esmeUnanswered(this, entry, true);
    });
    if (this.current !== 'BOUND') return;
    const conn = this.conn;
    const check = config.timeoutConnectionCheckClientSideMs;
    switch (supervise(this.ctx, now, conn.lastReceivedAt, conn.enquireSentAt, this.lastEnquireAt, check)) {
      case 'dead':
        this.ctx.warnings.warn('esme-silent', `ESME ${this.conn.remote} silent for ${(this.ctx.idleSupervision ? 3 : 1) * check} ms after enquire_link: closing`);
        this.close('ESME does not answer enquire_link');
        return;
      case 'send-enquire':
        this.lastEnquireAt = now;
        conn.enquireSentAt = now;
        conn.write(encodePdu(Cmd.enquire_link, 0, this.toEsme.add(0, Cmd.enquire_link, now + config.timeoutResponseMs)));
        return;
      case 'ok':
        return;
    }
  }
}
