// Regular mode (muxMode=false): one ESME side and its own SMSC side, paired. The pairing decides where
// PDUs go, which SMSC to bind to (toProviderAlgorithmClass) and when to rebind; each side keeps its state.

import type { Socket } from 'node:net';
import type { HostPort } from '../config/types.js';
import type { Logger } from '../log.js';
import type { PduConnection } from './connection.js';
import type { SmppContext } from './context.js';
import { EsmeSide, type EsmeOwner, type TakenEntry } from './esme-side.js';
import type { InflightEntry } from './inflight.js';
import { Cmd, Status, commandId, commandName, commandStatus, errorResponseFor, setSequenceNumber, type BindFields } from './pdu.js';
import type { SmscList } from './server-list.js';
import type { BindOutcome } from './smsc-connect.js';
import { SmscSide, type SmscOwner } from './smsc-side.js';

/** What a regular-mode session needs beyond the shared context. */
export interface SessionContext extends SmppContext {
  readonly servers: SmscList;
  readonly onClosed: (session: SmppSession) => void;
}

/** Rounds over all servers (one every reconnectPeriod) before a rebinding ESME is unbound and closed. */
const REBIND_ROUNDS = 3;

let nextSessionId = 1;

export class SmppSession implements EsmeOwner, SmscOwner {
  readonly id = nextSessionId++;
  readonly esme: EsmeSide;
  readonly smsc: SmscSide;
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
    this.log = ctx.log.child({ session: this.id });
    this.esme = new EsmeSide(socket, { ...ctx, log: this.log }, this, now);
    this.smsc = new SmscSide(ctx, this, this.esme.log);
  }

  // ───────────── ESME side → SMSC side ─────────────

  esmeBind(esme: EsmeSide, fields: BindFields): void {
    void this.bindUpstream(fields).then((outcome) => {
      if (esme.state !== 'BINDING') return; // gone meanwhile: its close() unbound the SMSC side
      if (outcome.conn && outcome.resp) {
        // Relay the SMSC's bind_resp as it is (system_id, sc_interface_version), with the ESME's number.
        esme.accept(outcome.resp, `bound to SMSC ${this.smsc.name}`);
        esme.log.info(`ESME ${fields.systemId} bound to SMSC ${this.smsc.name}`);
        return;
      }
      const status = outcome.resp !== undefined && commandId(outcome.resp) !== Cmd.generic_nack ? commandStatus(outcome.resp) : Status.ESME_RSYSERR;
      this.ctx.stats.rejected.inc('bind-failed');
      this.ctx.warnings.warn('esme-bind-no-smsc', `ESME ${fields.systemId}: no SMSC accepted the bind (${outcome.error ?? 'no server configured'}); bind_resp 0x${status.toString(16)}`);
      esme.refuse(status, 'bind failed');
    });
  }

  esmeRequest(esme: EsmeSide, pdu: Buffer, id: number, seq: number): PduConnection | undefined {
    if (this.smsc.state !== 'BOUND') {
      esme.conn.write(errorResponseFor(id, Status.ESME_RSYSERR, seq));
      return undefined;
    }
    return this.smsc.forward(pdu, id, seq, esme.conn.now);
  }

  /** The ESME answered a request of the SMSC's. */
  esmeResponse(esme: EsmeSide, pdu: Buffer, id: number, entry: TakenEntry): PduConnection | undefined {
    const smsc = this.smsc.conn;
    if (smsc === undefined || this.smsc.state !== 'BOUND') return undefined;
    setSequenceNumber(pdu, entry.originalSeq);
    this.ctx.stats.responsesByCommand.incId(id);
    if (id !== Cmd.unbind_resp) return smsc;
    // The SMSC's unbind is answered: both sessions end here, without a second unbind upstream.
    esme.conn.flushRun();
    smsc.write(pdu);
    this.smsc.drop('SMSC unbound');
    esme.close('SMSC unbound');
    return undefined;
  }

  esmeUnanswered(_esme: EsmeSide, entry: InflightEntry, expired: boolean): void {
    const smsc = this.smsc.conn;
    if (smsc === undefined || this.smsc.state !== 'BOUND') return;
    if (expired) {
      this.ctx.stats.notRespondedPackets++;
      this.log.debug(`no response to ${commandName(entry.commandId)} within timeoutResponse: answering ESME_RSYSERR`);
    }
    smsc.write(errorResponseFor(entry.commandId, Status.ESME_RSYSERR, entry.originalSeq));
  }

  esmeClosed(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.smsc.unbind('ESME closed');
    this.ctx.onClosed(this);
  }

  // ───────────── SMSC side → ESME side ─────────────

  smscRequest(smsc: SmscSide, pdu: Buffer, id: number, seq: number): PduConnection | undefined {
    if (this.esme.state !== 'BOUND') {
      smsc.conn!.write(errorResponseFor(id, Status.ESME_RSYSERR, seq));
      return undefined;
    }
    return this.esme.forward(pdu, id, seq, smsc.conn!.now);
  }

  /** The SMSC answered a request of the ESME's. */
  smscResponse(smsc: SmscSide, pdu: Buffer, id: number, entry: TakenEntry): PduConnection | undefined {
    setSequenceNumber(pdu, entry.originalSeq);
    this.ctx.stats.responsesByCommand.incId(id);
    if (id !== Cmd.unbind_resp) return this.esme.conn;
    // The ESME's unbind is answered: both sessions end here, without a second unbind upstream.
    smsc.conn!.flushRun();
    this.esme.conn.write(pdu);
    smsc.drop('ESME unbound');
    this.esme.close('ESME unbound');
    return undefined;
  }

  smscUnanswered(_smsc: SmscSide, entry: InflightEntry, expired: boolean): void {
    const esme = this.esme;
    if (expired) {
      this.ctx.stats.notRespondedPackets++;
      this.log.debug(`no response to ${commandName(entry.commandId)} within timeoutResponse: answering ESME_RSYSERR`);
    } else {
      if (esme.state === 'CLOSED' || esme.state === 'UNBINDING') return;
      this.ctx.stats.rejected.inc('smsc-lost');
    }
    esme.conn.write(errorResponseFor(entry.commandId, Status.ESME_RSYSERR, entry.originalSeq));
  }

  /** The SMSC connection dropped (or stopped answering): rebind every reconnectPeriod. */
  smscLost(smsc: SmscSide): void {
    if (this.esme.state === 'CLOSED' || this.esme.state === 'UNBINDING') {
      smsc.giveUp('ESME gone');
      return;
    }
    this.ctx.warnings.warn('smsc-lost', `SMSC ${smsc.name} lost: rebinding every ${this.ctx.config.reconnectPeriodMs} ms`);
    this.esme.rebinding(`SMSC ${smsc.name} lost`);
    this.reconnectAttempts = 0;
    this.lostServer = smsc.server;
    this.scheduleReconnect();
  }

  // ───────────── binding and rebinding ─────────────

  /**
   * Tries every server once, in the order toProviderAlgorithmClass gives. Returns the first bound connection;
   * else the last refusal (an SMSC's error status is passed on to the ESME), or the last connection error.
   */
  private async bindUpstream(fields: BindFields, avoid?: HostPort): Promise<BindOutcome> {
    let last: BindOutcome = { error: 'no SMSC configured' };
    let refusal: BindOutcome | undefined;
    // After a loss, the server that just failed is tried last.
    for (const server of this.ctx.servers.order(this.ctx.config.toProvider, avoid)) {
      const outcome = await this.smsc.bindTo(server, fields);
      if (outcome.conn) return outcome;
      if (outcome.resp) refusal = outcome;
      last = outcome;
      if (this.esme.state === 'CLOSED') break;
    }
    return refusal ?? last;
  }

  private scheduleReconnect(): void {
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.reconnect();
    }, this.ctx.config.reconnectPeriodMs);
  }

  private async reconnect(): Promise<void> {
    const esme = this.esme;
    if (esme.state !== 'REBINDING' || esme.bind === undefined) return;
    this.reconnectAttempts++;
    // One round: every server once, starting after the lost one.
    const outcome = await this.bindUpstream(esme.bind, this.lostServer);
    if (esme.state !== 'REBINDING') return;
    if (outcome.conn) {
      esme.rebound(`rebound to SMSC ${this.smsc.name}`);
      esme.log.info(`ESME ${esme.bind.systemId} rebound to SMSC ${this.smsc.name}`);
      return;
    }
    if (this.reconnectAttempts < REBIND_ROUNDS) {
      this.scheduleReconnect();
      return;
    }
    // No server can be reached: unbind the ESME and close.
    this.ctx.warnings.warn('esme-no-smsc', `ESME ${esme.bind.systemId}: no SMSC reachable in ${this.reconnectAttempts} rounds; unbinding the ESME`);
    this.smsc.giveUp('no SMSC reachable');
    esme.unbind('no SMSC reachable');
  }

  // ───────────── timers and shutdown ─────────────

  /** For /lbinfo. */
  info(): Record<string, unknown> {
    const esme = this.esme;
    return {
      id: this.id,
      systemId: esme.bind?.systemId ?? null,
      esme: { remote: esme.conn.remote, state: esme.state },
      smsc: { server: this.smsc.server ? this.smsc.name : null, state: this.smsc.state, inflight: this.smsc.toSmsc.size },
    };
  }

  /** Requests awaiting an answer, either way (shutdown waits for them). */
  get inflight(): number {
    return this.smsc.toSmsc.size + this.esme.toEsme.size;
  }

  sweep(now: number): void {
    this.esme.sweep(now);
    this.smsc.sweep(now);
  }

  /** Stops at once (daemon shutdown): unbind both sides without waiting. */
  shutdown(): void {
    this.smsc.shutdown();
    this.esme.shutdown();
  }
}
