// One ESME and its own upstream SMSC connection (the manual's regular mode): the server part (ESME side),
// the client part (SMSC side) and the dispatcher between them, with sequence renumbering both ways.

import type { Socket } from 'node:net';
import type { HostPort, SmppConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { SmppStats } from '../stats/smpp-stats.js';
import type { SmppRejectReason } from '../errors.js';
import { PduConnection } from './connection.js';
import { InflightTable, type InflightEntry } from './inflight.js';
import {
  Cmd,
  Status,
  commandId,
  commandName,
  commandStatus,
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
import type { SmscList } from './server-list.js';
import { connectAndBind, type BindOutcome, type SmscConnectOptions } from './smsc-connect.js';

/** Server part (ESME side) states, as the manual lists them. */
export type EsmeState = 'OPEN' | 'BINDING' | 'BOUND' | 'REBINDING' | 'UNBINDING' | 'CLOSED';
/** Client part (SMSC side) states, as the manual lists them. */
export type SmscState = 'INITIAL' | 'OPEN' | 'BINDING' | 'BOUND' | 'REBINDING' | 'UNBINDING' | 'CLOSED';

/** What every session shares, built once by the broker. */
export interface SessionContext {
  readonly config: SmppConfig;
  readonly stats: SmppStats;
  readonly log: Logger;
  readonly servers: SmscList;
  readonly connect: Omit<SmscConnectOptions, 'countBytes' | 'onSocketOpen' | 'onSocketClose'>;
  readonly onClosed: (session: SmppSession) => void;
}

/** Requests an ESME may send once bound, relayed to the SMSC. */
const ESME_REQUESTS = new Set<number>([
  Cmd.submit_sm, Cmd.submit_multi, Cmd.data_sm, Cmd.query_sm, Cmd.cancel_sm, Cmd.replace_sm, Cmd.unbind,
  Cmd.broadcast_sm, Cmd.query_broadcast_sm, Cmd.cancel_broadcast_sm,
]);
/** Requests an SMSC may send to a bound ESME, relayed to the ESME. */
const SMSC_REQUESTS = new Set<number>([Cmd.deliver_sm, Cmd.data_sm, Cmd.unbind, Cmd.alert_notification]);

/** Rounds over all servers (one every reconnectPeriod) before a rebinding ESME is unbound and closed. */
const REBIND_ROUNDS = 3;

let nextSessionId = 1;

export class SmppSession {
  readonly id = nextSessionId++;
  readonly esme: PduConnection;
  esmeState: EsmeState = 'OPEN';
  smsc: PduConnection | undefined;
  smscState: SmscState = 'INITIAL';
  /** The SMSC the client part is bound (or binding) to. */
  server: HostPort | undefined;
  readonly openedAt: number;
  /** Requests relayed to the SMSC, keyed by the SMSC connection's sequence numbers. */
  private toSmsc = new InflightTable();
  /** Requests relayed or sent to the ESME, keyed by the ESME connection's sequence numbers. */
  private readonly toEsme = new InflightTable();
  private bind: BindFields | undefined;
  private lastEnquireAt: number;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnectAttempts = 0;
  /** The SMSC whose connection was lost, avoided by the next rebind attempt. */
  private lostServer: HostPort | undefined;
  private readonly log: Logger;

  constructor(
    socket: Socket,
    private readonly ctx: SessionContext,
    now: number,
  ) {
    const { stats } = ctx;
    this.openedAt = now;
    this.lastEnquireAt = now;
    this.esme = new PduConnection(socket, ctx.config.maxPduSize, (n) => (stats.bytesToClient += n), now);
    this.log = ctx.log.child({ session: this.id, esme: this.esme.remote });
    stats.activeConnections++;
    this.esme.onPdu = (pdu) => this.fromEsme(pdu);
    this.esme.onFramingError = (err) => {
      stats.rejected.inc('bad-command-length');
      // Counted, and logged at debug only: a peer sending garbage must not flood the log.
      this.log.debug(`ESME sent command_length ${err.commandLength}: generic_nack ESME_RINVCMDLEN and close`);
      this.close('bad command_length');
    };
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'ESME socket error'));
    socket.once('close', () => {
      stats.activeConnections--;
      this.esme.closed = true;
      this.esmeGone();
    });
    socket.on('drain', () => this.smsc?.socket.resume());
    this.log.debug('ESME connected');
  }

  // ───────────── ESME → broker ─────────────

  /** Returns true when the PDU (renumbered in place) is to be relayed to the SMSC as it is. */
  private fromEsme(pdu: Buffer): boolean {
    const id = commandId(pdu);
    const seq = sequenceNumber(pdu);
    const { stats } = this.ctx;
    switch (this.esmeState) {
      case 'OPEN':
        if (!isBind(id)) {
          stats.rejected.inc('not-bound');
          this.log.debug(`${commandName(id)} before bind: generic_nack ESME_RINVCMDID and close`);
          this.esme.write(genericNack(Status.ESME_RINVCMDID, seq));
          this.close('request before bind');
          return false;
        }
        this.startBind(pdu);
        return false;
      case 'BOUND':
        if (isResponse(id)) return this.esmeResponse(pdu, id, seq);
        if (ESME_REQUESTS.has(id)) {
          setSequenceNumber(pdu, this.toSmsc.add(seq, id, this.esme.now + this.ctx.config.timeoutResponseMs));
          stats.requestsToServer++;
          stats.requestsByCommand.incId(id);
          return true;
        }
        this.answerLocally(id, seq);
        return false;
      case 'BINDING':
      case 'REBINDING':
        if (isResponse(id)) return false; // nothing to relay a response to
        if (this.esmeState === 'REBINDING' && id === Cmd.unbind) {
          this.esme.write(encodePdu(Cmd.unbind_resp, Status.ESME_ROK, seq));
          this.close('ESME unbound while rebinding');
          return false;
        }
        if (id === Cmd.enquire_link) {
          this.answerLocally(id, seq);
          return false;
        }
        // The manual: "it turns back all received packets" until the client part is bound again.
        stats.rejected.inc(this.esmeState === 'BINDING' ? 'binding' : 'rebinding');
        this.esme.write(errorResponseFor(id, this.esmeState === 'BINDING' ? Status.ESME_RINVBNDSTS : Status.ESME_RSYSERR, seq));
        return false;
      case 'UNBINDING':
        if (id === Cmd.unbind_resp) this.close('ESME answered unbind');
        else if (!isResponse(id)) this.esme.write(errorResponseFor(id, Status.ESME_RSYSERR, seq));
        return false;
      case 'CLOSED':
        return false;
    }
  }

  /** enquire_link, a second bind and unknown commands: answered by the broker itself. */
  private answerLocally(id: number, seq: number): void {
    const { stats } = this.ctx;
    if (id === Cmd.enquire_link) {
      this.esme.write(encodePdu(Cmd.enquire_link_resp, Status.ESME_ROK, seq));
    } else if (isBind(id)) {
      stats.rejected.inc('already-bound');
      this.esme.write(errorResponseFor(id, Status.ESME_RALYBND, seq));
    } else {
      stats.rejected.inc('invalid-command-id');
      this.log.debug(`ESME sent ${commandName(id)}: generic_nack ESME_RINVCMDID`);
      this.esme.write(genericNack(Status.ESME_RINVCMDID, seq));
    }
  }

  /** A response (or generic_nack) from the ESME to a request the broker relayed or sent. */
  private esmeResponse(pdu: Buffer, id: number, seq: number): boolean {
    const table = this.toEsme;
    // Unknown: answered late after timeoutResponse. enquire_link: our own probe.
    if (!table.take(seq) || table.taken.commandId === Cmd.enquire_link) return false;
    const entry = table.taken;
    const smsc = this.smsc;
    if (smsc === undefined || this.smscState !== 'BOUND') return false;
    setSequenceNumber(pdu, entry.originalSeq);
    this.ctx.stats.responsesByCommand.incId(id);
    if (id !== Cmd.unbind_resp) return true;
    // The SMSC's unbind is answered: both sessions end here, without a second unbind upstream.
    this.esme.flushRun();
    smsc.write(pdu);
    this.dropSmsc();
    this.close('SMSC unbound');
    return false;
  }

  // ───────────── SMSC → broker ─────────────

  /** Returns true when the PDU (renumbered in place) is to be relayed to the ESME as it is. */
  private fromSmsc(pdu: Buffer): boolean {
    if (this.smscState !== 'BOUND' && this.smscState !== 'UNBINDING') return false;
    const id = commandId(pdu);
    const seq = sequenceNumber(pdu);
    const smsc = this.smsc!;
    const { stats } = this.ctx;
    if (isResponse(id)) {
      const table = this.toSmsc;
      if (!table.take(seq) || table.taken.commandId === Cmd.enquire_link) return false; // our probe, or late after timeoutResponse
      const entry = table.taken;
      if (this.smscState === 'UNBINDING') {
        if (id === Cmd.unbind_resp) this.dropSmsc();
        return false;
      }
      setSequenceNumber(pdu, entry.originalSeq);
      stats.responsesByCommand.incId(id);
      if (id !== Cmd.unbind_resp) return true;
      // The ESME's unbind is answered: both sessions end here, without a second unbind upstream.
      smsc.flushRun();
      this.esme.write(pdu);
      this.dropSmsc();
      this.close('ESME unbound');
      return false;
    }
    if (id === Cmd.enquire_link) {
      smsc.write(encodePdu(Cmd.enquire_link_resp, Status.ESME_ROK, seq));
      return false;
    }
    if (this.smscState !== 'BOUND' || this.esmeState !== 'BOUND') {
      smsc.write(errorResponseFor(id, Status.ESME_RSYSERR, seq));
      return false;
    }
    if (!SMSC_REQUESTS.has(id)) {
      stats.rejected.inc('invalid-command-id-from-smsc');
      this.log.debug(`SMSC sent ${commandName(id)}: generic_nack ESME_RINVCMDID`);
      smsc.write(genericNack(Status.ESME_RINVCMDID, seq));
      return false;
    }
    // alert_notification has no response: renumber it, but nothing waits for an answer.
    const newSeq = id === Cmd.alert_notification
      ? this.toEsme.nextSequence()
      : this.toEsme.add(seq, id, smsc.now + this.ctx.config.timeoutResponseMs);
    setSequenceNumber(pdu, newSeq);
    stats.requestsToClient++;
    stats.requestsByCommand.incId(id);
    return true;
  }

  // ───────────── binding and rebinding ─────────────

  private startBind(pdu: Buffer): void {
    const seq = sequenceNumber(pdu);
    const id = commandId(pdu);
    let fields: BindFields;
    try {
      fields = decodeBind(pdu);
    } catch {
      this.ctx.stats.rejected.inc('bad-bind');
      this.esme.write(errorResponseFor(id, Status.ESME_RBINDFAIL, seq));
      this.close('malformed bind');
      return;
    }
    this.bind = fields;
    this.esmeState = 'BINDING';
    this.ctx.stats.requestsByCommand.incId(id);
    void this.bindUpstream(this.ctx.servers.size).then((outcome) => {
      if (this.esmeState !== 'BINDING') {
        outcome.conn?.destroy();
        return;
      }
      if (outcome.conn && outcome.resp) {
        this.attach(outcome.conn);
        this.esmeState = 'BOUND';
        // Relay the SMSC's bind_resp as it is (system_id, sc_interface_version), with the ESME's number.
        setSequenceNumber(outcome.resp, seq);
        this.esme.write(outcome.resp);
        this.ctx.stats.responsesByCommand.incId(commandId(outcome.resp));
        this.log.info(`ESME ${fields.systemId} bound to SMSC ${this.server!.host}:${this.server!.port}`);
        return;
      }
      const status = outcome.resp !== undefined && commandId(outcome.resp) !== Cmd.generic_nack ? commandStatus(outcome.resp) : Status.ESME_RSYSERR;
      this.ctx.stats.rejected.inc('bind-failed');
      this.log.warn(`ESME ${fields.systemId}: no SMSC accepted the bind (${outcome.error ?? 'no server configured'}); bind_resp 0x${status.toString(16)}`);
      this.esme.write(errorResponseFor(id, status, seq));
      this.close('bind failed');
    });
  }

  /**
   * Tries up to `tries` servers in round-robin order. Returns the first bound connection; else the last
   * refusal (an SMSC's error status is passed on to the ESME), or the last connection error.
   */
  private async bindUpstream(tries: number, avoid?: HostPort): Promise<BindOutcome> {
    let last: BindOutcome = { error: 'no SMSC configured' };
    let refusal: BindOutcome | undefined;
    for (let i = 0; i < tries; i++) {
      let server = this.ctx.servers.next();
      // After a loss, prefer another server over the one that just failed.
      if (i === 0 && server !== undefined && avoid !== undefined && this.ctx.servers.size > 1 && server.host === avoid.host && server.port === avoid.port) {
        server = this.ctx.servers.next();
      }
      if (server === undefined) break;
      const outcome = await this.tryServer(server);
      if (outcome.conn) return outcome;
      if (outcome.resp) refusal = outcome;
      last = outcome;
      if (this.esmeState === 'CLOSED') break;
    }
    return refusal ?? last;
  }

  private async tryServer(server: HostPort): Promise<BindOutcome> {
    this.server = server;
    this.smscState = 'OPEN';
    this.toSmsc = new InflightTable();
    const { stats } = this.ctx;
    this.smscState = 'BINDING';
    const outcome = await connectAndBind(server, this.bind!, this.toSmsc.nextSequence(), {
      ...this.ctx.connect,
      countBytes: (n) => (stats.bytesToServer += n),
      onSocketOpen: () => stats.activeConnections++,
      onSocketClose: () => stats.activeConnections--,
    });
    if (!outcome.conn) {
      this.smscState = 'INITIAL';
      this.log.info(`SMSC ${server.host}:${server.port} did not bind: ${outcome.error}`);
    }
    return outcome;
  }

  private attach(conn: PduConnection): void {
    this.smsc = conn;
    this.smscState = 'BOUND';
    this.esme.peer = conn;
    conn.peer = this.esme;
    conn.enquireSentAt = 0;
    conn.onPdu = (pdu) => this.fromSmsc(pdu);
    conn.onFramingError = () => {
      this.log.warn(`SMSC ${this.server?.host}:${this.server?.port} sent a bad command_length: rebinding`);
      this.smscLost();
    };
    conn.socket.on('drain', () => this.esme.socket.resume());
    conn.socket.once('close', () => {
      if (this.smsc === conn) this.smscLost();
    });
    this.lastEnquireAt = Date.now();
    this.esme.socket.resume();
  }

  /** The SMSC connection dropped (or stopped answering): answer what was in flight, then rebind. */
  private smscLost(): void {
    const conn = this.smsc;
    this.smsc = undefined;
    this.esme.peer = undefined;
    conn?.destroy();
    if (this.esmeState === 'CLOSED' || this.esmeState === 'UNBINDING') return;
    this.log.warn(`SMSC ${this.server?.host}:${this.server?.port} lost: rebinding every ${this.ctx.config.reconnectPeriodMs} ms`);
    this.answerInflightToEsme('smsc-lost');
    this.toEsme.drain(() => undefined);
    this.esmeState = 'REBINDING';
    this.smscState = 'REBINDING';
    this.esme.socket.resume();
    this.reconnectAttempts = 0;
    this.lostServer = this.server;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.reconnect();
    }, this.ctx.config.reconnectPeriodMs);
  }

  private async reconnect(): Promise<void> {
    if (this.esmeState !== 'REBINDING') return;
    this.reconnectAttempts++;
    // One round: every server once, starting after the lost one.
    const outcome = await this.bindUpstream(this.ctx.servers.size, this.lostServer);
    if (this.esmeState !== 'REBINDING') {
      outcome.conn?.destroy();
      return;
    }
    if (outcome.conn) {
      this.attach(outcome.conn);
      this.esmeState = 'BOUND';
      this.log.info(`ESME ${this.bind?.systemId} rebound to SMSC ${this.server!.host}:${this.server!.port}`);
      return;
    }
    this.smscState = 'REBINDING';
    if (this.reconnectAttempts < REBIND_ROUNDS) {
      this.scheduleReconnect();
      return;
    }
    // No server can be reached: unbind the ESME and close.
    this.log.warn(`ESME ${this.bind?.systemId}: no SMSC reachable in ${this.reconnectAttempts} rounds; unbinding the ESME`);
    this.smscState = 'CLOSED';
    this.esmeState = 'UNBINDING';
    this.esme.write(encodePdu(Cmd.unbind, 0, this.toEsme.nextSequence()));
    setTimeout(() => this.close('no SMSC reachable'), this.ctx.config.timeoutResponseMs).unref();
  }

  // ───────────── timers (driven by the broker's sweep) ─────────────

  /** One sweep step: bind deadline, response deadlines, enquire_link supervision. */
  sweep(now: number): void {
    const { config, stats } = this.ctx;
    if (this.esmeState === 'CLOSED') return;
    if (this.esmeState === 'OPEN') {
      if (now - this.openedAt >= config.timeoutConnectionMs) {
        stats.notBindClients++;
        this.log.debug(`no bind within timeoutConnection (${config.timeoutConnectionMs} ms): closing`);
        this.close('no bind in time');
      }
      return;
    }
    this.toSmsc.expire(now, (entry) => this.answerExpired(entry, this.esme));
    const smsc = this.smsc;
    if (smsc !== undefined && this.smscState === 'BOUND') this.toEsme.expire(now, (entry) => this.answerExpired(entry, smsc));
    else this.toEsme.expire(now, () => undefined);
    if (this.esmeState !== 'BOUND' || smsc === undefined) return;

    // Supervision: an enquire_link that got no PDU back within the check timeout means a dead peer.
    if (this.esme.enquireSentAt !== 0 && this.esme.lastReceivedAt < this.esme.enquireSentAt && now - this.esme.enquireSentAt >= config.timeoutConnectionCheckClientSideMs) {
      this.log.warn(`ESME silent for ${config.timeoutConnectionCheckClientSideMs} ms after enquire_link: closing`);
      this.close('ESME does not answer enquire_link');
      return;
    }
    if (smsc.enquireSentAt !== 0 && smsc.lastReceivedAt < smsc.enquireSentAt && now - smsc.enquireSentAt >= config.timeoutConnectionCheckServerSideMs) {
      this.log.warn(`SMSC ${this.server?.host}:${this.server?.port} silent for ${config.timeoutConnectionCheckServerSideMs} ms after enquire_link`);
      this.smscLost();
      return;
    }
    if (now - this.lastEnquireAt >= config.timeoutEnquireMs) {
      this.lastEnquireAt = now;
      if (this.esme.enquireSentAt === 0 || this.esme.lastReceivedAt >= this.esme.enquireSentAt) {
        this.esme.enquireSentAt = now;
        this.esme.write(encodePdu(Cmd.enquire_link, 0, this.toEsme.add(0, Cmd.enquire_link, now + config.timeoutResponseMs)));
      }
      if (smsc.enquireSentAt === 0 || smsc.lastReceivedAt >= smsc.enquireSentAt) {
        smsc.enquireSentAt = now;
        smsc.write(encodePdu(Cmd.enquire_link, 0, this.toSmsc.add(0, Cmd.enquire_link, now + config.timeoutResponseMs)));
      }
    }
  }

  /** timeoutResponse passed: the broker answers the sender itself. */
  private answerExpired(entry: InflightEntry, sender: PduConnection): void {
    if (entry.commandId === Cmd.enquire_link) return; // our own supervision probe
    this.ctx.stats.notRespondedPackets++;
    this.log.debug(`no response to ${commandName(entry.commandId)} within timeoutResponse: answering ESME_RSYSERR`);
    sender.write(errorResponseFor(entry.commandId, Status.ESME_RSYSERR, entry.originalSeq));
  }

  private answerInflightToEsme(reason: SmppRejectReason): void {
    this.toSmsc.drain((entry) => {
      if (entry.commandId === Cmd.enquire_link) return;
      this.ctx.stats.rejected.inc(reason);
      this.esme.write(errorResponseFor(entry.commandId, Status.ESME_RSYSERR, entry.originalSeq));
    });
  }

  // ───────────── closing ─────────────

  /** The ESME connection closed: unbind and close the upstream session. */
  private esmeGone(): void {
    if (this.esmeState === 'CLOSED') {
      this.dropSmscGracefully();
      return;
    }
    this.log.debug('ESME disconnected');
    this.close('ESME disconnected');
  }

  /** Closes the ESME side and unbinds the SMSC side. Idempotent. */
  close(reason: string): void {
    if (this.esmeState === 'CLOSED') return;
    this.log.debug(`closing session: ${reason}`);
    this.esmeState = 'CLOSED';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.esme.close();
    this.dropSmscGracefully();
    this.ctx.onClosed(this);
  }

  /** Answers the SMSC's pending requests, sends unbind, and closes when unbind_resp comes (or after timeoutResponse). */
  private dropSmscGracefully(): void {
    const smsc = this.smsc;
    if (smsc === undefined || smsc.closed) return;
    if (this.smscState === 'UNBINDING') return;
    this.toEsme.drain((entry) => {
      if (entry.commandId !== Cmd.enquire_link) smsc.write(errorResponseFor(entry.commandId, Status.ESME_RSYSERR, entry.originalSeq));
    });
    this.toSmsc.drain(() => undefined);
    this.smscState = 'UNBINDING';
    this.esme.peer = undefined;
    smsc.peer = undefined;
    smsc.write(encodePdu(Cmd.unbind, 0, this.toSmsc.add(0, Cmd.unbind, Date.now() + this.ctx.config.timeoutResponseMs)));
    setTimeout(() => this.dropSmsc(), this.ctx.config.timeoutResponseMs).unref();
  }

  private dropSmsc(): void {
    const smsc = this.smsc;
    this.smsc = undefined;
    this.smscState = 'CLOSED';
    smsc?.close();
  }

  /** Stops at once (daemon shutdown): unbind both sides without waiting. */
  shutdown(): void {
    if (this.esmeState === 'BOUND') this.esme.write(encodePdu(Cmd.unbind, 0, this.toEsme.nextSequence()));
    if (this.smsc !== undefined && this.smscState === 'BOUND') this.smsc.write(encodePdu(Cmd.unbind, 0, this.toSmsc.nextSequence()));
    this.esmeState = 'CLOSED';
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.esme.close(200);
    this.dropSmsc();
  }
}
