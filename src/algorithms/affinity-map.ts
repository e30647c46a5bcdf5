// The shared shape of the map-based algorithms (user-based, cluster-subdomain-affinity, weighted,
// least-calls): an affinity key → node map, new keys placed by a NewCallPicker (weights, ramp-up),
// the entries of a dead node moved at once, idle entries evicted by one sweep timer.

import type { IncomingMessage } from 'node:http';
import { activeNodes, type AlgorithmContext, type AlgorithmSipRequest, type BalancerAlgorithm } from './algorithm.js';
import { NewCallPicker, rampUpOf } from './new-call-picker.js';
import type { ServerNode } from '../registry/server-node.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';

interface Entry {
  nodeId: string;
  lastUsed: number;
}

export abstract class AffinityMapAlgorithm implements BalancerAlgorithm {
  abstract readonly name: string;
  protected keyOf: (req: AlgorithmSipRequest) => string = (req) => req.callId;
  /** False when a key's node must be active (not graceful) to take a new request of the key. */
  protected reuseGraceful = true;
  protected useWeights = false;
  protected picker = new NewCallPicker();
  protected log: Logger = silentLogger();
  protected live = new Map<string, ServerNode>();
  private readonly entries = new Map<string, Entry>();
  /** Entries per node id, for least-calls and group failover. */
  protected readonly callsPerNode = new Map<string, number>();
  private maxIdleMs = 500_000;
  private groupFailover = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  protected now: () => number = Date.now;

  init(ctx: AlgorithmContext): void {
    this.log = ctx.log;
    const a = ctx.config.algorithm;
    this.maxIdleMs = a.callIdAffinityMaxTimeInCacheSeconds * 1000;
    this.groupFailover = a.callIdAffinityGroupFailover;
    this.picker = new NewCallPicker({ rampUp: rampUpOf(a), useWeights: this.useWeights, now: () => this.now() });
    this.configure(ctx);
    if (this.maxIdleMs > 0) {
      // One sweep for all entries; never a timer per call.
      this.sweepTimer = setInterval(() => this.evictIdle(), Math.min(6000, Math.max(1000, this.maxIdleMs / 10)));
      this.sweepTimer.unref();
    }
  }

  /** Subclass hook: read the algorithm's own settings. */
  protected configure(_ctx: AlgorithmContext): void {}

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
    const entry = this.entries.get(key);
    let failedFrom: ServerNode | undefined;
    if (entry) {
      const node = this.live.get(entry.nodeId);
      if (node && this.usable(node)) {
        entry.lastUsed = this.now();
        return node;
      }
      failedFrom = node;
    }
    const node = (failedFrom && this.failoverTarget(failedFrom)) || this.pickNew(req);
    if (node) this.setEntry(key, node.id);
    return node;
  }

  pickForAssignedSipRequest(req: AlgorithmSipRequest, assigned: ServerNode | undefined): ServerNode | undefined {
    // A dialog stays on its node while the node lives, graceful or not.
    if (assigned && this.live.has(assigned.id) && assigned.state !== 'bad') {
      this.setEntry(this.keyOf(req), assigned.id);
      return assigned;
    }
    return this.pickForSipRequest(req);
  }

  assignToNode(req: AlgorithmSipRequest, node: ServerNode): void {
    this.setEntry(this.keyOf(req), node.id);
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
    return this.entries.get(key)?.nodeId;
  }

  evictIdle(): void {
    const deadline = this.now() - this.maxIdleMs;
    for (const [key, entry] of this.entries) if (entry.lastUsed < deadline) this.deleteEntry(key, entry);
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.entries.clear();
    this.callsPerNode.clear();
  }

  protected usable(node: ServerNode): boolean {
    return this.reuseGraceful ? node.state !== 'bad' : node.state === 'active';
  }

  /** The active node with the fewest entries (ties: the picker's order). */
  protected leastBusy(): ServerNode | undefined {
    let best: ServerNode | undefined;
    let bestCalls = Infinity;
    for (const node of this.picker.candidates) {
      const calls = this.callsPerNode.get(node.id) ?? 0;
      if (calls < bestCalls) {
        best = node;
        bestCalls = calls;
      }
    }
    return best;
  }

  private moveEntriesOf(dead: ServerNode): void {
    let moved = 0;
    // One target for all of a dead node's keys when the subclass has one (group failover), else spread.
    const groupTarget = this.failoverTarget(dead);
    for (const entry of this.entries.values()) {
      if (entry.nodeId !== dead.id) continue;
      const target = groupTarget ?? this.picker.pick();
      if (!target) return;
      this.count(entry.nodeId, -1);
      entry.nodeId = target.id;
      this.count(target.id, 1);
      moved++;
    }
    if (moved > 0) this.log.info(`${this.name}: moved ${moved} affinity entries of the dead node ${dead}`);
  }

  private setEntry(key: string, nodeId: string): void {
    const entry = this.entries.get(key);
    if (entry) {
      entry.lastUsed = this.now();
      if (entry.nodeId === nodeId) return;
      this.count(entry.nodeId, -1);
      entry.nodeId = nodeId;
    } else {
      this.entries.set(key, { nodeId, lastUsed: this.now() });
    }
    this.count(nodeId, 1);
  }

  private deleteEntry(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.count(entry.nodeId, -1);
  }

  private count(nodeId: string, delta: number): void {
    const n = (this.callsPerNode.get(nodeId) ?? 0) + delta;
    if (n <= 0) this.callsPerNode.delete(nodeId);
    else this.callsPerNode.set(nodeId, n);
  }
}
