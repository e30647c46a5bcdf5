// Node health from live SIP traffic (the original's health check and "media failure" rules): a node that
// leaves requests unanswered, or answers with error statuses too often, is marked bad in the registry and
// gets no new work; after a quarantine it is given traffic again if it still shows signs of life.
// The SIP forwarder feeds it: requestForwarded() per request sent to a node, responseReceived() per response.

import type { Config, HealthConfig } from '../config/types.js';
import { DEFAULT_QUARANTINE_MS } from '../config/health-section.js';
import type { Logger } from '../log.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import type { ServerNode } from '../registry/server-node.js';
import { guardedInterval } from '../timers.js';
import type { NodePick, NodePicker, PickRequest } from '../sip/node-choice.js';

/** A node marked bad again soon after its quarantine waits twice as long, up to this many times the base. */
const MAX_QUARANTINE_FACTOR = 8;

/** The monitor the configuration asks for, not started (the SIP service starts and stops it). */
export function createNodeHealthMonitor(ctx: { readonly config: Config; readonly registry: NodeRegistry; readonly log: Logger }): NodeHealthMonitor {
  return new NodeHealthMonitor(ctx.registry, { health: ctx.config.health, quarantineMs: ctx.config.health.quarantineMs, log: ctx.log });
}

export interface HealthMonitorOptions {
  readonly health: HealthConfig;
  /**
   * How long a node marked bad here stays bad before it gets traffic again (if it still heartbeats or
   * answered meanwhile); 0 = until it re-registers with a new sessionId (the original's only way back).
   */
  readonly quarantineMs?: number;
  readonly log: Logger;
  readonly now?: () => number;
}

export interface HealthCounters {
  /** Nodes marked bad for unanswered requests. */
  markedBadNoResponse: number;
  /** Nodes marked bad for too many error statuses. */
  markedBadErrors: number;
  /** Nodes given traffic again after their quarantine. */
  restored: number;
}

interface NodeHealth {
  node: ServerNode;
  /** Requests forwarded since the last response, and when the first of them went out. */
  pending: number;
  firstPendingAt: number;
  /** Error statuses in the current maxErrorTime window, which began at errorWindowStart. */
  errors: number;
  errorWindowStart: number;
  /** Set while the node is bad because of this monitor. */
  badSince?: number;
  answeredSinceBad: boolean;
  /** Times marked bad without a long healthy spell in between (for the quarantine back-off). */
  strikes: number;
  restoredAt: number;
}

export class NodeHealthMonitor {
  private readonly nodes = new Map<string, NodeHealth>();
  private maxPending: number | undefined;
  private maxResponseTimeMs: number | undefined;
  private errorStatuses: ReadonlySet<number> = new Set();
  private maxErrors = 0;
  private maxErrorTimeMs = 0;
  private quarantineMs = 0;
  private readonly log: Logger;
  private readonly now: () => number;
  private sweepTimer: NodeJS.Timeout | undefined;
  private started = false;
  readonly counters: HealthCounters = { markedBadNoResponse: 0, markedBadErrors: 0, restored: 0 };

  private readonly onStateChanged = (node: ServerNode): void => {
    const h = this.nodes.get(node.id);
    // Made active by someone else (a re-registration with a new sessionId): start afresh.
    if (h && node.state === 'active' && h.badSince !== undefined) this.reset(h);
  };
  private readonly onRemoved = (node: ServerNode): void => {
    this.nodes.delete(node.id);
  };

  constructor(
    private readonly registry: NodeRegistry,
    opts: HealthMonitorOptions,
  ) {
    this.log = opts.log;
    this.now = opts.now ?? Date.now;
    this.setRules(opts.health, opts.quarantineMs);
  }

  /**
   * Applies new limits (hot reload): the counts gathered so far are kept and judged by the new limits from
   * the next request or response on; quarantined nodes keep their quarantine.
   */
  reconfigure(health: HealthConfig, quarantineMs: number): void {
    const previousQuarantine = this.quarantineMs;
    this.setRules(health, quarantineMs);
    if (this.sweepTimer !== undefined || previousQuarantine !== this.quarantineMs) {
      if (this.sweepTimer) clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
      if (this.started) this.startSweep();
    }
  }

  private setRules(h: HealthConfig, quarantineMs: number | undefined): void {
    // The no-answer rule needs both limits, as in the original.
    const both = h.maxRequestNumberWithoutResponse !== undefined && h.maxResponseTimeMs !== undefined;
    this.maxPending = both ? h.maxRequestNumberWithoutResponse : undefined;
    this.maxResponseTimeMs = both ? h.maxResponseTimeMs : undefined;
    this.errorStatuses = new Set(h.responsesStatusCodeNodeRemoval);
    this.maxErrors = h.maxNumberResponsesWithError;
    this.maxErrorTimeMs = h.maxErrorTimeMs;
    this.quarantineMs = quarantineMs ?? DEFAULT_QUARANTINE_MS;
  }

  /** True when either rule is switched on (the forwarder may skip the calls otherwise). */
  get enabled(): boolean {
    return this.maxPending !== undefined || this.errorStatuses.size > 0;
  }

  start(): void {
    this.started = true;
    this.registry.on('state-changed', this.onStateChanged);
    this.registry.on('removed', this.onRemoved);
    this.startSweep();
  }

  private startSweep(): void {
    if (this.quarantineMs <= 0) return;
    // One coarse timer for every quarantined node.
    this.sweepTimer = guardedInterval('Node health sweep', Math.min(1000, this.quarantineMs), () => this.sweep());
  }

  stop(): void {
    this.started = false;
    this.registry.off('state-changed', this.onStateChanged);
    this.registry.off('removed', this.onRemoved);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** A request (not ACK, which gets no response) was sent to `node`. */
  requestForwarded(node: ServerNode, method?: string): void {
    if (this.maxPending === undefined || method === 'ACK') return;
    const h = this.stateOf(node);
    const now = this.now();
    if (h.pending === 0) h.firstPendingAt = now;
    h.pending++;
    // More than the allowed number unanswered, the oldest of them for longer than maxResponseTime.
    if (h.pending > this.maxPending && now - h.firstPendingAt > this.maxResponseTimeMs! && node.state !== 'bad') {
      this.counters.markedBadNoResponse++;
      this.markBad(h, `${h.pending} requests without a response for ${now - h.firstPendingAt} ms (maxRequestNumberWithoutResponse ${this.maxPending}, maxResponseTime ${this.maxResponseTimeMs} ms)`);
    }
  }

  /** A response came from `node` (any status). */
  responseReceived(node: ServerNode, status: number): void {
    const h = this.nodes.get(node.id) ?? (this.errorStatuses.has(status) ? this.stateOf(node) : undefined);
    if (!h) return;
    const now = this.now();
    h.pending = 0;
    if (h.badSince !== undefined) h.answeredSinceBad = true;
    if (!this.errorStatuses.has(status)) return;
    if (h.errors === 0 || now - h.errorWindowStart > this.maxErrorTimeMs) {
      h.errors = 0;
      h.errorWindowStart = now;
    }
    h.errors++;
    if (h.errors > this.maxErrors && node.state !== 'bad') {
      this.counters.markedBadErrors++;
      this.markBad(h, `${h.errors} responses with status ${[...this.errorStatuses].join('/')} within ${now - h.errorWindowStart} ms (maxNumberResponsesWithError ${this.maxErrors}, maxErrorTime ${this.maxErrorTimeMs} ms)`);
    }
  }

  /**
   * Marks `node` bad now for a failure seen outside SIP traffic (an HTTP check URL answered with an error,
   * requestCheckPattern); the quarantine brings it back as for the rules above. False when it was bad already.
   */
  markBadNow(node: ServerNode, reason: string): boolean {
    if (node.state === 'bad') return false;
    this.markBad(this.stateOf(node), reason);
    return true;
  }

  /** Returns quarantined nodes that still show signs of life. Called by the timer; public for tests. */
  sweep(): void {
    if (this.quarantineMs <= 0) return;
    const now = this.now();
    for (const h of this.nodes.values()) {
      if (h.badSince === undefined) continue;
      const node = h.node;
      if (this.registry.get(node.id) !== node || node.state !== 'bad') {
        this.reset(h);
        continue;
      }
      const wait = this.quarantineMs * Math.min(MAX_QUARANTINE_FACTOR, 2 ** Math.max(0, h.strikes - 1));
      if (now - h.badSince < wait) continue;
      // A permanent node (extraServerNodes) never heartbeats: the quarantine alone brings it back to be tried.
      const heartbeat = node.permanent || node.lastSeen > h.badSince;
      if (!heartbeat && !h.answeredSinceBad) continue;
      const since = h.badSince;
      this.reset(h);
      h.restoredAt = now;
      this.counters.restored++;
      this.registry.setState(node, 'active', `quarantine of ${wait} ms over (bad since ${new Date(since).toISOString()}) and it ${heartbeat ? 'still sends heartbeats' : 'answered again'}`);
    }
  }

  /** Health counters of a node, for diagnostics and tests. */
  nodeState(node: ServerNode): { pending: number; errors: number; bad: boolean } | undefined {
    const h = this.nodes.get(node.id);
    return h && { pending: h.pending, errors: h.errors, bad: h.badSince !== undefined };
  }

  private stateOf(node: ServerNode): NodeHealth {
    let h = this.nodes.get(node.id);
    if (!h || h.node !== node) {
      h = { node, pending: 0, firstPendingAt: 0, errors: 0, errorWindowStart: 0, answeredSinceBad: false, strikes: 0, restoredAt: -Infinity };
      this.nodes.set(node.id, h);
    }
    return h;
  }

  private markBad(h: NodeHealth, reason: string): void {
    const now = this.now();
    // A node that fails again soon after its return waits longer the next time.
    if (now - h.restoredAt > 10 * this.quarantineMs) h.strikes = 0;
    h.strikes++;
    h.badSince = now;
    h.answeredSinceBad = false;
    const back = this.quarantineMs > 0 ? `; back after ${this.quarantineMs * Math.min(MAX_QUARANTINE_FACTOR, 2 ** (h.strikes - 1))} ms of quarantine if it still heartbeats` : '; back when it re-registers with a new sessionId';
    this.registry.setState(h.node, 'bad', reason + back);
    this.log.debug({ node: h.node.id, counters: this.counters }, 'node health counters');
  }

  private reset(h: NodeHealth): void {
    h.pending = 0;
    h.errors = 0;
    h.badSince = undefined;
    h.answeredSinceBad = false;
  }
}

/**
 * Health from traffic as a wrapper around the node picker (as grpc-js's outlier detection wraps its child
 * picker): every request a pick sends to a node is counted against it, and the monitor (fed the responses by
 * the forwarder) takes a node that stops answering out of the rotation. `monitor` is read per pick: a hot
 * reload may switch the rules on or off.
 */
export function trafficHealthPicker(inner: NodePicker, monitor: () => NodeHealthMonitor | undefined): NodePicker {
  return {
    pick(req: PickRequest): NodePick {
      const pick = inner.pick(req);
      if (pick.node) monitor()?.requestForwarded(pick.node, req.msg.method);
      return pick;
    },
  };
}
