// The shared shape of the map-based algorithms (call-id-affinity, user-based, cluster-subdomain-affinity,
// weighted, least-calls): an affinity key → node map, new keys placed by a picker (round robin, weights, ramp-up),
// the entries of a dead node moved at once, idle entries evicted by one sweep timer, the map bounded
// (AffinityTable: callIdAffinityMaxEntries, least recently used first).

import type { IncomingMessage } from 'node:http';
import { activeNodes, type AlgorithmContext, type AlgorithmSipRequest, type BalancerAlgorithm } from './algorithm.js';
import { NewCallPicker, rampUpOf } from './new-call-picker.js';
import type { NewCallChooser } from './round-robin.js';
import type { ServerNode } from '../registry/server-node.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { AffinityTable, DEFAULT_MAX_ENTRIES } from './affinity-table.js';
import { guardedInterval } from '../timers.js';

export abstract class AffinityMapAlgorithm<P extends NewCallChooser = NewCallPicker> implements BalancerAlgorithm {
  abstract readonly name: string;
  protected keyOf: (req: AlgorithmSipRequest) => string = (req) => req.callId;
  /** False when a key's node must be active (not graceful) to take a new request of the key. */
  protected reuseGraceful = true;
  protected useWeights = false;
  protected picker: P = new NewCallPicker() as NewCallChooser as P;
  protected log: Logger = silentLogger();
  protected live = new Map<string, ServerNode>();
  /** Key → node, bounded (callIdAffinityMaxEntries, least recently used evicted first). */
  protected entries = new AffinityTable(DEFAULT_MAX_ENTRIES, 500_000);
  protected groupFailover = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  protected now: () => number = Date.now;

  init(ctx: AlgorithmContext): void {
    this.log = ctx.log;
    const a = ctx.config.algorithm;
    const maxIdleMs = a.callIdAffinityMaxTimeInCacheSeconds * 1000;
    this.entries = new AffinityTable(a.callIdAffinityMaxEntries, maxIdleMs, () => this.now());
    this.groupFailover = a.callIdAffinityGroupFailover;
    this.picker = this.newPicker(ctx);
    this.configure(ctx);
    if (maxIdleMs > 0) {
      // One sweep for all entries; never a timer per call.
      this.sweepTimer = guardedInterval('Affinity sweep', Math.min(6000, Math.max(1000, maxIdleMs / 10)), () => this.evictIdle(), this.log);
    }
  }

  /** Subclass hook: read the algorithm's own settings. */
  protected configure(_ctx: AlgorithmContext): void {}

  /** Subclass hook: the picker for new keys (weights and ramp-up by default). */
  protected newPicker(ctx: AlgorithmContext): P {
    return new NewCallPicker({ rampUp: rampUpOf(ctx.config.algorithm), useWeights: this.useWeights, now: () => this.now() }) as NewCallChooser as P;
  }

  /** Subclass hook: whether a request without an entry creates one (false: pickWithoutEntry places it). */
  protected createsEntry(_req: AlgorithmSipRequest): boolean {
    return true;
  }

  /** Subclass hook: the node of a request that has no entry and creates none. */
  protected pickWithoutEntry(req: AlgorithmSipRequest): ServerNode | undefined {
    return this.pickNew(req);
  }

  nodesChanged(live: readonly ServerNode[]): void {
    const previous = this.live;
    this.live = new Map(live.map((n) => [n.id, n]));
    this.picker.update(activeNodes(live));
    const dead = [...previous.values()].filter((n) => !this.live.has(n.id));
    if (dead.length === 0) return;
    for (const node of dead) this.moveEntriesOf(node);
  }

  /** Where the keys of a dead (or bad) node go: with group failover all to the least busy node. */
  protected failoverTarget(dead: ServerNode): ServerNode | undefined {
    void dead;
    return this.groupFailover ? this.leastBusy() : undefined;
  }

  /** The node for a key the map does not place (a new call). */
  protected pickNew(_req: AlgorithmSipRequest): ServerNode | undefined {
    return this.picker.pick();
  }

  pickForSipRequest(req: AlgorithmSipRequest): ServerNode | undefined {
    const key = this.keyOf(req);
    const known = this.entries.get(key);
    let failedFrom: ServerNode | undefined;
    if (known) {
      const node = this.live.get(known.id);
      if (node && this.usable(node)) return node;
      failedFrom = node;
    } else if (!this.createsEntry(req)) {
      return this.pickWithoutEntry(req);
    }
    const node = (failedFrom && this.failoverTarget(failedFrom)) || this.pickNew(req);
    if (node) this.entries.set(key, node);
    return node;
  }

  pickForAssignedSipRequest(req: AlgorithmSipRequest, assigned: ServerNode | undefined): ServerNode | undefined {
    // A dialog stays on its node while the node lives, graceful or not.
    if (assigned && this.live.has(assigned.id) && assigned.state !== 'bad') {
      this.entries.set(this.keyOf(req), assigned);
      return assigned;
    }
    return this.pickForSipRequest(req);
  }

  assignToNode(req: AlgorithmSipRequest, node: ServerNode): void {
    const key = this.keyOf(req);
    if (this.createsEntry(req) || this.entries.peek(key)) this.entries.set(key, node);
  }

  pickForHttpRequest(_req: IncomingMessage): ServerNode | undefined {
    return this.picker.pick();
  }

  affinityKeyOf(req: AlgorithmSipRequest): string {
    return this.keyOf(req);
  }

  activeCalls(): number {
    return this.entries.size;
  }

  /** The node id `key` is mapped to, for tests and diagnostics. */
  assignedNodeId(key: string): string | undefined {
    return this.entries.peek(key)?.id;
  }

  statistics(): Readonly<Record<string, number | boolean>> {
    const s = this.entries.stats();
    return { AffinityEntries: s.entries, AffinityEvictedFull: s.evictedFull, AffinityExpired: s.expired };
  }

  evictIdle(): void {
    this.entries.evictIdle();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.entries.clear();
  }

  /** Entries (calls) held by a node, for least-calls and group failover. */
  protected callsOn(node: ServerNode): number {
    return this.entries.countOf(node);
  }

  protected usable(node: ServerNode): boolean {
    return this.reuseGraceful ? node.state !== 'bad' : node.state === 'active';
  }

  /** The active node with the fewest entries (ties: the picker's order). */
  protected leastBusy(): ServerNode | undefined {
    let best: ServerNode | undefined;
    let bestCalls = Infinity;
    for (const node of this.picker.candidates) {
      const calls = this.callsOn(node);
      if (calls < bestCalls) {
        best = node;
        bestCalls = calls;
      }
    }
    return best;
  }

  private moveEntriesOf(dead: ServerNode): void {
    // One target for all of a dead node's keys when the subclass has one (group failover), else spread.
    const groupTarget = this.failoverTarget(dead);
    const moved = this.entries.reassign(dead, () => groupTarget ?? this.picker.pick());
    if (moved > 0) this.log.info(`${this.name}: moved ${moved} affinity entries of the dead node ${dead}`);
  }
}
