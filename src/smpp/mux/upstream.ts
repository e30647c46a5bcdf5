// One SMSC of a mux-mode user space: its transceiver bind (an SmscSide, whose state machine it drives), the
// retry policy after a failed bind or a lost connection, and draining when the SMSC leaves the server list.
// Where its PDUs go is the user space's business (it owns the SmscSide).

import type { HostPort } from '../../config/types.js';
import type { Logger } from '../../log.js';
import type { SmppContext } from '../context.js';
import { Cmd, commandId, commandStatus, type BindFields } from '../pdu.js';
import { SmscSide, type SmscOwner } from '../smsc-side.js';

/** bind_resp statuses that mean "these credentials are not welcome here": retrying would not help. */
const ESME_RINVPASWD = 0x0e;
const ESME_RINVSYSID = 0x0f;

/** What an upstream tells its user space about its binds. */
export interface UpstreamEvents {
  upstreamBound(up: Upstream): void;
  /** The SMSC refused the credentials (0x0E or 0x0F): this upstream is closed and will not retry. */
  upstreamRefused(up: Upstream, status: number): void;
  /** An attempt failed for another reason (connection, timeout, other status); a retry is scheduled. */
  upstreamFailed(up: Upstream, error: string): void;
}

let nextBindKey = 1;
let nextUpstreamId = 1;

export class Upstream {
  /** Stays the same across rebinds to this SMSC: its message ids keep their meaning (receipt memory scope). */
  readonly id = nextUpstreamId++;
  readonly side: SmscSide;
  /**
   * This bind's key, new for every successful bind: requests relayed to ESMEs carry it, so that an answer to a
   * request of a lost connection is not sent on the next one (whose sequence numbers mean something else).
   */
  key = 0;
  /** Failed attempts since the last successful bind. */
  failures = 0;
  /** The SMSC left the server list; it drains once another SMSC can take its requests (see UserSpace.drainRemoved). */
  removed = false;
  /** Draining: no new requests; unbound once what is in flight is answered. */
  draining = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(
    readonly server: HostPort,
    private readonly ctx: SmppContext,
    private readonly owner: SmscOwner & UpstreamEvents,
    private readonly fields: BindFields,
    private readonly log: Logger,
  ) {
    this.side = new SmscSide(ctx, owner, log);
  }

  get name(): string {
    return `${this.server.host}:${this.server.port}`;
  }

  /** Bound and not draining: may take new requests. */
  get usable(): boolean {
    return !this.draining && this.side.state === 'BOUND';
  }

  /** Nothing left to do: the side is closed. */
  get closed(): boolean {
    return this.side.state === 'CLOSED';
  }

  /** First bind attempt. */
  start(): void {
    void this.attempt();
  }

  private async attempt(): Promise<void> {
    if (this.finished) return;
    const outcome = await this.side.bindTo(this.server, this.fields);
    if (this.finished || this.side.state === 'CLOSED') return;
    if (outcome.conn !== undefined) {
      if (this.failures > 0) this.log.info(`SMSC ${this.name} bound for ${this.fields.systemId} after ${this.failures} failed attempts`);
      this.failures = 0;
      this.key = nextBindKey++;
      this.owner.upstreamBound(this);
      return;
    }
    this.failures++;
    const resp = outcome.resp;
    const status = resp !== undefined && commandId(resp) !== Cmd.generic_nack ? commandStatus(resp) : undefined;
    if (status === ESME_RINVPASWD || status === ESME_RINVSYSID) {
      this.ctx.warnings.warn('smsc-refused-credentials', `SMSC ${this.name} refused ${this.fields.systemId} with 0x${status.toString(16)}: not retried`);
      this.finish('credentials refused');
      this.owner.upstreamRefused(this, status);
      return;
    }
    // Said once per run of failures; the retries every reconnectPeriod go to debug.
    const line = `SMSC ${this.name} did not bind ${this.fields.systemId} (${outcome.error ?? 'no answer'}): retrying every ${this.ctx.config.reconnectPeriodMs} ms`;
    if (this.failures === 1) this.log.warn(line);
    else this.log.debug(line);
    this.scheduleRetry();
    this.owner.upstreamFailed(this, outcome.error ?? 'bind failed');
  }

  /** The bound connection was lost (the side is REBINDING): rebind after reconnectPeriod. */
  lost(): void {
    if (this.draining) {
      this.finish('removed SMSC lost');
      return;
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.finished || this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.attempt();
    }, this.ctx.config.reconnectPeriodMs);
  }

  /** The SMSC left the server list: stop taking requests, unbind when nothing is in flight (see settle). */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    if (this.side.state !== 'BOUND') this.finish('SMSC removed');
    else this.settle();
  }

  /** A draining upstream with nothing in flight is unbound. Called after each response and on every sweep. */
  settle(): void {
    if (this.draining && this.side.state === 'BOUND' && this.side.toSmsc.size === 0) this.finish('SMSC removed from the server list');
  }

  /** Unbinds (or stops binding) for good. */
  finish(why: string): void {
    this.finished = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.side.state === 'INITIAL' || this.side.state === 'REBINDING') this.side.giveUp(why);
    else this.side.unbind(why);
  }

  /** Daemon shutdown: unbind without waiting. */
  shutdown(): void {
    this.finished = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.side.shutdown();
  }
}
