// call-id-affinity (the default; the original's CallIDAffinityBalancerAlgorithm): a Call-ID → node map,
// new Call-IDs round robin over active nodes; the map is bounded (AffinityTable: an entry cap, LRU first).

import type { IncomingMessage } from 'node:http';
import { activeNodes, registerAlgorithm, type AlgorithmContext, type AlgorithmSipRequest, type BalancerAlgorithm } from './algorithm.js';
import { RoundRobinPicker, newCallChooser, type NewCallChooser } from './round-robin.js';
import type { ServerNode } from '../registry/server-node.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import { AffinityTable, DEFAULT_MAX_ENTRIES } from './affinity-table.js';
import { guardedInterval } from '../timers.js';

/**
 * Requests that start state a node keeps (a dialog, a subscription): only these create a Call-ID entry.
 * What follows an INVITE (ACK, CANCEL, PRACK, UPDATE, INFO, BYE) finds the INVITE's entry; every other
 * out-of-dialog request (OPTIONS, MESSAGE, REGISTER, PUBLISH...) costs nothing that outlives it: it goes to
 * the node its Call-ID hashes to, so its retransmissions and an authenticated retry reach the same node.
 */
const CREATES_ENTRY = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);

export function createsAffinity(method: string): boolean {
  return CREATES_ENTRY.has(method);
}

export class CallIdAffinityAlgorithm implements BalancerAlgorithm {
  readonly name: string = 'call-id-affinity';
  protected picker: NewCallChooser = new RoundRobinPicker();
  protected calls = new AffinityTable(DEFAULT_MAX_ENTRIES, 500_000);
  protected live = new Map<string, ServerNode>();
  /** Active nodes by id, for the hashed pick of requests that create no entry. */
  private active: ServerNode[] = [];
  private groupFailover = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  protected now: () => number = Date.now;
  private registry: NodeRegistry | undefined;

  constructor(opts: { now?: () => number } = {}) {
    if (opts.now) this.now = opts.now;
  }

  init(ctx: AlgorithmContext): void {
    this.registry = ctx.registry;
    this.picker = newCallChooser(ctx, this.now);
    const a = ctx.config.algorithm;
    const maxIdleMs = a.callIdAffinityMaxTimeInCacheSeconds * 1000;
    // 0 = no idle limit: the entry cap alone bounds the table (never unbounded).
    this.calls = new AffinityTable(a.callIdAffinityMaxEntries, maxIdleMs, this.now);
    this.groupFailover = a.callIdAffinityGroupFailover;
    if (maxIdleMs > 0) {
      // One sweep for all calls; never a timer per call.
      this.sweepTimer = guardedInterval('Call-ID affinity sweep', Math.min(6000, Math.max(1000, maxIdleMs / 10)), () => this.evictIdle());
    }
  }

  nodesChanged(live: readonly ServerNode[]): void {
    const previous = this.live;
    this.live = new Map(live.map((n) => [n.id, n]));
    this.active = activeNodes(live);
    this.picker.update(this.active);
    // Move the calls of nodes that died: all to one node with group failover, else spread round robin.
    if (this.picker.size === 0) return;
    for (const node of previous.values()) {
      if (this.live.has(node.id)) continue;
      const target = this.groupFailover ? this.picker.pick() : undefined;
      this.calls.reassign(node, () => target ?? this.picker.pick());
    }
  }

  pickForSipRequest(req: AlgorithmSipRequest): ServerNode | undefined {
    const callId = req.callId;
    const known = this.calls.get(callId);
    if (known && this.live.has(known.id) && known.state !== 'bad') return known;
    if (!known && !CREATES_ENTRY.has(req.method)) return this.hashed(callId);
    const node = this.picker.pick();
    if (node) this.calls.set(callId, node);
    return node;
  }

  pickForAssignedSipRequest(req: AlgorithmSipRequest, assigned: ServerNode | undefined, version?: string): ServerNode | undefined {
    const registry = this.registry;
    const alive = assigned !== undefined && assigned.state !== 'bad' && (this.live.has(assigned.id) || registry?.get(assigned.id) === assigned);
    if (alive) {
      // Graceful nodes keep their dialogs: only new calls avoid them.
      if (this.calls.peek(req.callId)) this.calls.set(req.callId, assigned);
      return assigned;
    }
    // Mid-call failover stays within the dialog's version: an older version's nodes are not in the picker.
    if (version !== undefined && registry && version !== registry.latestVersion) {
      const candidates = activeNodes(registry.live(version));
      if (candidates.length === 0) return undefined;
      const node = candidates[fnv(req.callId) % candidates.length]!;
      this.remember(req, node);
      return node;
    }
    return this.pickForSipRequest(req);
  }

  assignToNode(req: AlgorithmSipRequest, node: ServerNode): void {
    this.remember(req, node);
  }

  pickForHttpRequest(_req: IncomingMessage): ServerNode | undefined {
    return this.picker.pick();
  }

  activeCalls(): number {
    return this.calls.size;
  }

  statistics(): Readonly<Record<string, number | boolean>> {
    const s = this.calls.stats();
    return { AffinityEntries: s.entries, AffinityEvictedFull: s.evictedFull, AffinityExpired: s.expired };
  }

  evictIdle(): void {
    this.calls.evictIdle();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.calls.clear();
  }

  /** Keeps `req`'s Call-ID on `node` when it creates an entry or already has one. */
  private remember(req: AlgorithmSipRequest, node: ServerNode): void {
    if (CREATES_ENTRY.has(req.method) || this.calls.peek(req.callId)) this.calls.set(req.callId, node);
  }

  private hashed(callId: string): ServerNode | undefined {
    const n = this.active.length;
    return n === 0 ? undefined : this.active[fnv(callId) % n];
  }
}

/** A stable small hash, so every instance fails a Call-ID over to the same node of an old version. */
function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

registerAlgorithm('call-id-affinity', () => new CallIdAffinityAlgorithm(), {
  description: 'Call-ID → node map, new calls round robin (the default)',
  javaNames: ['CallIDAffinityBalancerAlgorithm'],
});
