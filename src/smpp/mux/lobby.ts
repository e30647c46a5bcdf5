// Mux mode's front door: owns ESMEs until they bind, then hands each to the user space of its system_id
// (creating it, which binds to every SMSC, for the first one). Drives every space's timers from the broker's
// sweep, tells spaces when the server list changes, and lists them for /lbinfo.

import type { Socket } from 'node:net';
import type { SmppContext } from '../context.js';
import { EsmeSide, type EsmeOwner } from '../esme-side.js';
import type { BindFields } from '../pdu.js';
import type { SmscList } from '../server-list.js';
import { ReceiptMemory } from './receipt-memory.js';
import { UserSpace, type SpaceContext } from './user-space.js';

export class MuxLobby implements EsmeOwner {
  /** Connected, not bound yet (the bind deadline runs). */
  private readonly waiting = new Set<EsmeSide>();
  /** The space that takes new ESMEs of each system_id. */
  private readonly bySystemId = new Map<string, UserSpace>();
  /** Every space, including those still unbinding their SMSCs. */
  private readonly spaces = new Set<UserSpace>();
  readonly receipts: ReceiptMemory;
  private readonly spaceCtx: SpaceContext;

  constructor(
    private readonly ctx: SmppContext,
    private readonly servers: SmscList,
  ) {
    this.receipts = new ReceiptMemory(ctx.config.muxReceiptMemory, ctx.config.muxReceiptLifetimeMs);
    this.spaceCtx = {
      ...ctx,
      receipts: this.receipts,
      onClosing: (space) => {
        if (this.bySystemId.get(space.systemId) === space) this.bySystemId.delete(space.systemId);
      },
      onClosed: (space) => {
        if (this.bySystemId.get(space.systemId) === space) this.bySystemId.delete(space.systemId);
        this.spaces.delete(space);
      },
    };
  }

  /** User spaces open now (for tests and /lbinfo). */
  get spaceCount(): number {
    return this.spaces.size;
  }

  /** Requests awaiting an answer in every user space (shutdown waits for them). */
  get inflight(): number {
    let n = 0;
    for (const space of this.spaces) n += space.inflight;
    return n;
  }

  accept(socket: Socket, now: number): void {
    this.waiting.add(new EsmeSide(socket, this.ctx, this, now));
  }

  esmeBind(esme: EsmeSide, fields: BindFields): void {
    this.waiting.delete(esme);
    let space = this.bySystemId.get(fields.systemId);
    if (space !== undefined) {
      space.join(esme);
      return;
    }
    space = new UserSpace(fields, this.servers.servers(), this.spaceCtx);
    this.bySystemId.set(fields.systemId, space);
    this.spaces.add(space);
    esme.log.info(`ESME ${fields.systemId} is the first of its system_id: binding to ${this.servers.size} SMSCs`);
    space.join(esme);
    space.start();
  }

  esmeClosed(esme: EsmeSide): void {
    this.waiting.delete(esme);
  }

  // An ESME that has not bound sends nothing past the ESME side, and is sent nothing.
  esmeRequest(): undefined {
    return undefined;
  }

  esmeResponse(): undefined {
    return undefined;
  }

  esmeUnanswered(): void {}

  /** The server list changed: every space binds to new SMSCs and drains removed ones. */
  serversChanged(): void {
    const list = this.servers.servers();
    for (const space of this.spaces) space.setServers(list);
  }

  sweep(now: number): void {
    for (const esme of this.waiting) esme.sweep(now);
    for (const space of this.spaces) space.sweep(now);
    this.receipts.expire(now);
  }

  shutdown(): void {
    for (const esme of [...this.waiting]) esme.shutdown();
    for (const space of [...this.spaces]) space.shutdown();
    this.spaces.clear();
    this.bySystemId.clear();
    this.receipts.clear();
  }

  info(): Record<string, unknown>[] {
    const waiting = [...this.waiting].map((e) => ({ id: e.id, remote: e.conn.remote, state: e.state }));
    return [...(waiting.length > 0 ? [{ systemId: null, state: 'UNBOUND', esmes: waiting, upstreams: [] }] : []), ...[...this.spaces].map((s) => s.info())];
  }
}
