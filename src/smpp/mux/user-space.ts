// Mux mode (muxMode=true): the ESMEs of one system_id sharing one transceiver bind per SMSC. Its state machine
// (BINDING → BOUND ↔ REBINDING → UNBINDING → CLOSED, changed only in updateState) decides the ESMEs' states;
// it routes ESME requests to an upstream (toProviderAlgorithmClass) and SMSC requests to an ESME (round robin,
// or the ESME that submitted the message a receipt reports on).

import { createHash, timingSafeEqual } from 'node:crypto';
import type { HostPort } from '../../config/types.js';
import type { Logger } from '../../log.js';
import type { PduConnection } from '../connection.js';
import type { SmppContext } from '../context.js';
import type { EsmeOwner, EsmeSide, TakenEntry } from '../esme-side.js';
import type { InflightEntry } from '../inflight.js';
import { Cmd, Status, commandName, commandStatus, encodeBindResp, errorResponseFor, setSequenceNumber, type BindFields } from '../pdu.js';
import type { SmscOwner, SmscSide } from '../smsc-side.js';
import { receiptedMessageId, registeredDelivery, responseMessageId } from './message-fields.js';
import type { ReceiptMemory } from './receipt-memory.js';
import { Upstream, type UpstreamEvents } from './upstream.js';

export type SpaceState = 'BINDING' | 'BOUND' | 'REBINDING' | 'UNBINDING' | 'CLOSED';

/** The transitions a user space may make; anything else is a bug, logged and refused. */
const NEXT: Readonly<Record<SpaceState, readonly SpaceState[]>> = {
  BINDING: ['BOUND', 'UNBINDING', 'CLOSED'],
  BOUND: ['REBINDING', 'UNBINDING', 'CLOSED'],
  REBINDING: ['BOUND', 'UNBINDING', 'CLOSED'],
  UNBINDING: ['CLOSED'],
  CLOSED: [],
};

/** The system_id ESMEs get in a locally answered bind_resp, as the original's mux mode answered. */
export const MUX_SYSTEM_ID = 'loadbalancer';

const ESME_RINVPASWD = 0x0e;

/** Marks, in an upstream in-flight entry's origin, a submit that asked for a receipt. */
const WANTS_RECEIPT = 0x80000000;

/** What a user space needs beyond the shared context. */
export interface SpaceContext extends SmppContext {
  readonly receipts: ReceiptMemory;
  /** The space no longer takes ESMEs (UNBINDING): a new ESME of its system_id starts a new space. */
  readonly onClosing: (space: UserSpace) => void;
  readonly onClosed: (space: UserSpace) => void;
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'latin1').digest();

let nextSpaceId = 1;

export class UserSpace implements EsmeOwner, SmscOwner, UpstreamEvents {
  readonly id = nextSpaceId++;
  readonly systemId: string;
  private current: SpaceState = 'BINDING';
  /** The first ESME's bind: the credentials of every upstream bind, and what later ESMEs are checked against. */
  private readonly credentials: BindFields;
  private readonly passwordDigest: Buffer;
  private readonly esmes = new Map<number, EsmeSide>();
  /** One per SMSC, in server-list order (active-standby takes the first usable one). */
  private upstreams: Upstream[] = [];
  private readonly bySide = new Map<number, Upstream>();
  /** Bound upstreams by their bind key (the origin of what is relayed to ESMEs). */
  private readonly byKey = new Map<number, Upstream>();
  /** Routing lists, rebuilt on every change of membership or state (never on the relay path). */
  private usable: Upstream[] = [];
  private receivers: EsmeSide[] = [];
  private nextUpstream = 0;
  /** Removed SMSCs are kept serving while no replacement is bound (said once). */
  private keptRemoved = false;
  private nextReceiver = 0;
  private readonly log: Logger;

  constructor(
    first: BindFields,
    servers: readonly HostPort[],
    private readonly ctx: SpaceContext,
  ) {
    this.systemId = first.systemId;
    this.credentials = { ...first, commandId: Cmd.bind_transceiver };
    this.passwordDigest = digest(first.password);
    this.log = ctx.log.child({ systemId: first.systemId, space: this.id });
    for (const server of servers) this.addUpstream(server);
  }

  get state(): SpaceState {
    return this.current;
  }

  get esmeCount(): number {
    return this.esmes.size;
  }

  /** The one place the state changes, with what entering each state does to the ESMEs and upstreams. */
  private updateState(next: SpaceState, why: string): boolean {
    const previous = this.current;
    if (previous === next) return false;
    if (!NEXT[previous].includes(next)) {
      this.log.error(`user space ${this.systemId}: no transition ${previous} -> ${next} (${why}); staying ${previous}`);
      return false;
    }
    this.current = next;
    this.log.debug(`user space ${this.systemId} ${previous} -> ${next}: ${why}`);
    this.refreshRoutes();
    switch (next) {
      case 'BOUND':
        for (const esme of [...this.esmes.values()]) {
          if (esme.state === 'BINDING') this.admit(esme);
          else if (esme.state === 'REBINDING') esme.rebound(why);
        }
        if (previous === 'REBINDING') this.log.info(`${this.systemId}: an SMSC is bound again; ${this.esmes.size} ESMEs served`);
        break;
      case 'REBINDING':
        this.ctx.warnings.warn('mux-no-smsc', `${this.systemId}: no SMSC bound (${why}); requests are answered 0x08 until one binds again`);
        for (const esme of this.esmes.values()) esme.rebinding(why);
        break;
      case 'UNBINDING':
        this.ctx.onClosing(this);
        for (const up of this.upstreams) up.finish(why);
        break;
      case 'CLOSED':
        this.ctx.onClosed(this);
        break;
    }
    this.refreshRoutes();
    return true;
  }

  // ───────────── membership ─────────────

  /** Binds the upstreams (the first ESME is already a member). */
  start(): void {
    if (this.upstreams.length === 0) {
      this.fail(Status.ESME_RSYSERR, 'no SMSC configured');
      return;
    }
    for (const up of this.upstreams) up.start();
  }

  /** An ESME bound with this system_id: it waits for the first upstream bind, or is checked now. */
  join(esme: EsmeSide): void {
    this.esmes.set(esme.id, esme);
    esme.moveTo(this);
    switch (this.current) {
      case 'BINDING':
        return; // waits for the first SMSC bind
      case 'BOUND':
        this.admit(esme);
        return;
      case 'REBINDING':
        if (this.admit(esme)) esme.rebinding('no SMSC bound');
        return;
      case 'UNBINDING':
      case 'CLOSED':
        esme.refuse(Status.ESME_RSYSERR, 'user space closing');
    }
  }

  /** Checks a waiting ESME against the bound credentials and answers its bind locally. */
  private admit(esme: EsmeSide): boolean {
    const bind = esme.bind!;
    if (!timingSafeEqual(digest(bind.password), this.passwordDigest)) {
      this.ctx.stats.rejected.inc('wrong-password');
      esme.log.info(`ESME ${bind.systemId}: password differs from the bound one; bind_resp 0x0e`);
      esme.refuse(ESME_RINVPASWD, 'wrong password');
      return false;
    }
    // sc_interface_version is sent when the ESME speaks 3.4 or later, as in regular mode.
    const resp = encodeBindResp(bind.commandId, Status.ESME_ROK, 0, MUX_SYSTEM_ID, bind.interfaceVersion >= 0x34 ? 0x34 : undefined);
    if (esme.accept(resp, `${this.systemId} served by ${this.usable.length} SMSC binds`)) {
      esme.log.info(`ESME ${bind.systemId} bound (mux: ${this.esmes.size} ESMEs share ${this.usable.length} SMSC binds)`);
    }
    this.refreshRoutes();
    return true;
  }

  /** Nothing can bind for these credentials: waiting ESMEs get `status`, bound ones are unbound; the space closes. */
  private fail(status: number, why: string): void {
    this.ctx.warnings.warn('mux-esmes-refused', `${this.systemId}: ${why}; ${this.esmes.size} ESMEs answered 0x${status.toString(16)}`);
    this.updateState('UNBINDING', why);
    for (const esme of [...this.esmes.values()]) {
      this.ctx.stats.rejected.inc('bind-failed');
      if (esme.state === 'BINDING') esme.refuse(status, why);
      else esme.unbind(why);
    }
    this.closeIfDone();
  }

  /** UNBINDING → CLOSED once every SMSC bind is closed (now, or on a later sweep). */
  private closeIfDone(): void {
    if (this.current !== 'UNBINDING') return;
    for (const up of this.upstreams) if (up.closed) this.removeUpstream(up);
    if (this.upstreams.length === 0) this.updateState('CLOSED', 'every SMSC bind closed');
  }

  esmeBind(esme: EsmeSide): void {
    esme.refuse(Status.ESME_RALYBND, 'second bind');
  }

  esmeClosed(esme: EsmeSide): void {
    if (!this.esmes.delete(esme.id)) return;
    this.refreshRoutes();
    if (this.esmes.size === 0 && this.current !== 'UNBINDING' && this.current !== 'CLOSED') {
      this.log.info(`${this.systemId}: the last ESME left; unbinding ${this.upstreams.length} SMSC binds`);
      this.updateState('UNBINDING', 'last ESME gone');
      this.closeIfDone();
    }
  }

  // ───────────── upstream binds ─────────────

  private addUpstream(server: HostPort): Upstream {
    const up = new Upstream(server, this.ctx, this, this.credentials, this.log);
    this.upstreams.push(up);
    this.bySide.set(up.side.id, up);
    return up;
  }

  private removeUpstream(up: Upstream): void {
    this.upstreams = this.upstreams.filter((u) => u !== up);
    this.bySide.delete(up.side.id);
    this.byKey.delete(up.key);
    this.refreshRoutes();
  }

  upstreamBound(up: Upstream): void {
    if (up.draining) {
      up.finish('SMSC removed while binding');
      return;
    }
    this.byKey.set(up.key, up);
    this.refreshRoutes();
    if (this.current === 'BINDING' || this.current === 'REBINDING') this.updateState('BOUND', `bound to SMSC ${up.name}`);
    if (!up.removed) this.drainRemoved();
  }

  upstreamRefused(up: Upstream, status: number): void {
    this.removeUpstream(up);
    if (this.upstreams.length === 0) this.fail(status, `every SMSC refused ${this.systemId}`);
    else this.drainRemoved();
  }

  upstreamFailed(): void {
    this.drainRemoved();
  }

  /** While the first bind runs: when every SMSC has failed once and none bound, the waiting ESMEs get 0x08. */
  private checkUnreachable(): void {
    if (this.current !== 'BINDING') return;
    if (this.upstreams.every((u) => u.failures > 0)) this.fail(Status.ESME_RSYSERR, 'no SMSC reachable');
  }

  /** The server list changed: bind to new SMSCs, drain removed ones. */
  setServers(servers: readonly HostPort[]): void {
    if (this.current === 'UNBINDING' || this.current === 'CLOSED') return;
    const key = (s: HostPort): string => `${s.host}:${s.port}`;
    const wanted = new Set(servers.map(key));
    for (const up of this.upstreams) if (!wanted.has(up.name)) up.removed = true;
    const have = new Set(this.upstreams.filter((u) => !u.removed).map((u) => u.name));
    for (const server of servers) {
      if (have.has(key(server))) continue;
      this.log.info(`${this.systemId}: SMSC ${key(server)} added; binding`);
      this.addUpstream(server).start();
    }
    // Keep server-list order for active-standby: the list's first SMSC is the active one.
    const order = new Map(servers.map((s, i) => [key(s), i]));
    this.upstreams.sort((a, b) => (order.get(a.name) ?? servers.length) - (order.get(b.name) ?? servers.length));
    this.drainRemoved();
  }

  /**
   * Drains the SMSCs removed from the list once another can take their requests: while no replacement is bound yet
   * (but one is binding or retrying), a removed SMSC keeps serving, so that replacing one SMSC with another fails no
   * request. With no replacement at all, removed SMSCs drain at once.
   */
  private drainRemoved(): void {
    if (this.current === 'UNBINDING' || this.current === 'CLOSED') return;
    const replacements = this.upstreams.filter((u) => !u.removed);
    const waitForReplacement = replacements.length > 0 && !replacements.some((u) => u.usable) && replacements.some((u) => !u.closed);
    if (waitForReplacement && !this.keptRemoved) {
      this.keptRemoved = true;
      this.log.warn(`${this.systemId}: removed SMSCs keep serving until a new one binds`);
    }
    if (!waitForReplacement) {
      this.keptRemoved = false;
      for (const up of this.upstreams) {
        if (!up.removed || up.draining) continue;
        this.log.info(`${this.systemId}: SMSC ${up.name} removed; draining its bind`);
        up.drain();
      }
    }
    for (const up of this.upstreams) if (up.closed && up.removed) this.removeUpstream(up);
    this.refreshRoutes();
    if (this.current === 'BOUND' && this.usable.length === 0) this.updateState('REBINDING', 'every bound SMSC was removed');
    if (this.current === 'BINDING' && this.upstreams.length === 0) this.fail(Status.ESME_RSYSERR, 'every SMSC was removed');
    else this.checkUnreachable();
  }

  // ───────────── ESME → SMSC ─────────────

  esmeRequest(esme: EsmeSide, pdu: Buffer, id: number, seq: number): PduConnection | undefined {
    if (id === Cmd.unbind) {
      esme.unbound(seq, 'ESME unbound');
      return undefined;
    }
    if (esme.bind!.commandId === Cmd.bind_receiver) {
      this.ctx.stats.rejected.inc('receiver-cannot-send');
      esme.conn.write(errorResponseFor(id, Status.ESME_RINVBNDSTS, seq));
      return undefined;
    }
    const up = this.pickUpstream();
    if (up === undefined) {
      this.ctx.stats.rejected.inc('rebinding');
      esme.conn.write(errorResponseFor(id, Status.ESME_RSYSERR, seq));
      return undefined;
    }
    let origin = esme.id;
    if ((id === Cmd.submit_sm || id === Cmd.data_sm) && this.ctx.receipts.enabled && registeredDelivery(pdu, id) !== 0) origin = (origin | WANTS_RECEIPT) >>> 0;
    return up.side.forward(pdu, id, seq, esme.conn.now, origin);
  }

  private pickUpstream(): Upstream | undefined {
    const list = this.usable;
    if (list.length === 0) return undefined;
    if (this.ctx.config.toProvider === 'active-standby') return list[0];
    if (this.nextUpstream >= list.length) this.nextUpstream = 0;
    return list[this.nextUpstream++];
  }

  /** The SMSC answered an ESME's request: back to that ESME, with its sequence number. */
  smscResponse(smsc: SmscSide, pdu: Buffer, id: number, entry: TakenEntry): PduConnection | undefined {
    this.ctx.stats.responsesByCommand.incId(id);
    const esmeId = (entry.origin & ~WANTS_RECEIPT) >>> 0;
    const esme = this.esmes.get(esmeId);
    if ((entry.origin & WANTS_RECEIPT) !== 0 && commandStatus(pdu) === Status.ESME_ROK) {
      const messageId = responseMessageId(pdu);
      if (messageId !== undefined) this.ctx.receipts.remember(this.receiptScope(smsc), messageId, esmeId, smsc.conn?.now ?? Date.now());
    }
    this.bySide.get(smsc.id)?.settle();
    if (esme === undefined || esme.state !== 'BOUND') return undefined; // gone meanwhile
    setSequenceNumber(pdu, entry.originalSeq);
    return esme.conn;
  }

  smscUnanswered(smsc: SmscSide, entry: InflightEntry, expired: boolean): void {
    if (expired) {
      this.ctx.stats.notRespondedPackets++;
      this.log.debug(`no response to ${commandName(entry.commandId)} from SMSC ${smsc.name} within timeoutResponse: answering ESME_RSYSERR`);
    } else {
      this.ctx.stats.rejected.inc('smsc-lost');
    }
    const esme = this.esmes.get((entry.origin & ~WANTS_RECEIPT) >>> 0);
    if (esme !== undefined && (esme.state === 'BOUND' || esme.state === 'REBINDING')) {
      esme.conn.write(errorResponseFor(entry.commandId, Status.ESME_RSYSERR, entry.originalSeq));
    }
    if (expired) this.bySide.get(smsc.id)?.settle();
  }

  smscLost(smsc: SmscSide, why: string): void {
    const up = this.bySide.get(smsc.id);
    if (up === undefined) return;
    this.ctx.warnings.warn('mux-smsc-lost', `${this.systemId}: SMSC ${up.name} lost (${why}); rebinding every ${this.ctx.config.reconnectPeriodMs} ms`);
    this.byKey.delete(up.key);
    up.lost();
    if (up.closed) this.removeUpstream(up);
    this.refreshRoutes();
    if (this.current === 'BOUND' && this.usable.length === 0) this.updateState('REBINDING', `SMSC ${up.name} lost, the last one bound`);
  }

  // ───────────── SMSC → ESME ─────────────

  smscRequest(smsc: SmscSide, pdu: Buffer, id: number, seq: number): PduConnection | undefined {
    const conn = smsc.conn!;
    if (id === Cmd.unbind) {
      // The SMSC ends this bind: answered here; the others keep serving, and this one rebinds later.
      smsc.unboundBySmsc(seq);
      return undefined;
    }
    let esme: EsmeSide | undefined;
    if (id === Cmd.deliver_sm || id === Cmd.data_sm) {
      const receipt = receiptedMessageId(pdu, id);
      if (receipt !== undefined) {
        const submitter = this.ctx.receipts.lookup(this.receiptScope(smsc), receipt.messageId, conn.now, !receipt.intermediate);
        const candidate = submitter === undefined ? undefined : this.esmes.get(submitter);
        if (candidate !== undefined && this.receivers.includes(candidate)) esme = candidate;
      }
    }
    esme ??= this.pickReceiver();
    if (esme === undefined) {
      this.ctx.stats.rejected.inc('no-esme');
      conn.write(errorResponseFor(id, Status.ESME_RSYSERR, seq));
      return undefined;
    }
    return esme.forward(pdu, id, seq, conn.now, this.bySide.get(smsc.id)?.key ?? 0);
  }

  /** Message ids are the SMSC's own: remembered per user space and SMSC (the upstream, which outlives rebinds). */
  private receiptScope(smsc: SmscSide): number {
    return this.bySide.get(smsc.id)?.id ?? 0;
  }

  private pickReceiver(): EsmeSide | undefined {
    const list = this.receivers;
    if (list.length === 0) return undefined;
    if (this.nextReceiver >= list.length) this.nextReceiver = 0;
    return list[this.nextReceiver++];
  }

  /** An ESME answered an SMSC's request: back to that SMSC's bind, with its sequence number. */
  esmeResponse(_esme: EsmeSide, pdu: Buffer, id: number, entry: TakenEntry): PduConnection | undefined {
    const side = this.byKey.get(entry.origin)?.side;
    if (side?.conn === undefined || (side.state !== 'BOUND' && side.state !== 'UNBINDING')) return undefined;
    setSequenceNumber(pdu, entry.originalSeq);
    this.ctx.stats.responsesByCommand.incId(id);
    return side.conn;
  }

  esmeUnanswered(_esme: EsmeSide, entry: InflightEntry, expired: boolean): void {
    const side = this.byKey.get(entry.origin)?.side;
    if (side?.conn === undefined || side.state !== 'BOUND') return;
    if (expired) {
      this.ctx.stats.notRespondedPackets++;
      this.log.debug(`no response to ${commandName(entry.commandId)} from an ESME within timeoutResponse: answering ESME_RSYSERR`);
    }
    side.conn.write(errorResponseFor(entry.commandId, Status.ESME_RSYSERR, entry.originalSeq));
  }

  // ───────────── routing lists, timers, shutdown ─────────────

  private refreshRoutes(): void {
    const open = this.current === 'BOUND';
    this.usable = open ? this.upstreams.filter((u) => u.usable) : [];
    this.receivers = open
      ? [...this.esmes.values()].filter((e) => e.state === 'BOUND' && e.bind!.commandId !== Cmd.bind_transmitter)
      : [];
  }

  sweep(now: number): void {
    for (const esme of this.esmes.values()) esme.sweep(now);
    for (const up of this.upstreams) {
      up.side.sweep(now);
      up.settle();
      if (up.closed && up.removed) this.removeUpstream(up);
    }
    this.closeIfDone();
  }

  /** Requests awaiting an answer, either way (shutdown waits for them). */
  get inflight(): number {
    let n = 0;
    for (const up of this.upstreams) n += up.side.toSmsc.size;
    for (const esme of this.esmes.values()) n += esme.toEsme.size;
    return n;
  }

  /** Daemon shutdown: unbind every side without waiting. */
  shutdown(): void {
    for (const up of this.upstreams) up.shutdown();
    for (const esme of [...this.esmes.values()]) esme.shutdown();
    this.updateState('CLOSED', 'shutdown');
  }

  /** For /lbinfo. */
  info(): Record<string, unknown> {
    return {
      systemId: this.systemId,
      state: this.current,
      esmes: [...this.esmes.values()].map((e) => ({ id: e.id, remote: e.conn.remote, state: e.state, bind: commandName(e.bind?.commandId ?? 0) })),
      upstreams: this.upstreams.map((u) => ({ smsc: u.name, state: u.side.state, draining: u.draining, inflight: u.side.toSmsc.size })),
    };
  }
}
