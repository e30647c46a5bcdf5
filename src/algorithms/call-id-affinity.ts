// call-id-affinity (the default; the original's CallIDAffinityBalancerAlgorithm): a Call-ID → node map,
// new Call-IDs round robin over active nodes, idle entries evicted by one sweep timer.

import type { IncomingMessage } from 'node:http';
import { activeNodes, registerAlgorithm, type AlgorithmContext, type AlgorithmSipRequest, type BalancerAlgorithm } from './algorithm.js';
import { RoundRobinPicker, newCallChooser, type NewCallChooser } from './round-robin.js';
import type { ServerNode } from '../registry/server-node.js';
import type { NodeRegistry } from '../registry/node-registry.js';

interface Entry {
  node: ServerNode;
  lastUsed: number;
}

export class CallIdAffinityAlgorithm implements BalancerAlgorithm {
  readonly name: string = 'call-id-affinity';
  protected picker: NewCallChooser = new RoundRobinPicker();
  protected readonly calls = new Map<string, Entry>();
  protected liveIds = new Set<string>();
  private maxIdleMs = 500_000;
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
    this.maxIdleMs = ctx.config.algorithm.callIdAffinityMaxTimeInCacheSeconds * 1000;
    this.groupFailover = ctx.config.algorithm.callIdAffinityGroupFailover;
    if (this.maxIdleMs > 0) {
      // One sweep for all calls; never a timer per call.
      this.sweepTimer = setInterval(() => this.evictIdle(), Math.min(6000, Math.max(1000, this.maxIdleMs / 10)));
      this.sweepTimer.unref();
    }
  }

  nodesChanged(live: readonly ServerNode[]): void {
    const previous = this.liveIds;
    this.liveIds = new Set(live.map((n) => n.id));
    this.picker.update(activeNodes(live));
    // Move the calls of nodes that died: all to one node with group failover, else spread round robin.
    const dead = [...previous].filter((id) => !this.liveIds.has(id));
    if (dead.length === 0 || this.picker.size === 0) return;
    const deadSet = new Set(dead);
    const target = this.groupFailover ? this.picker.pick() : undefined;
    for (const entry of this.calls.values()) {
      if (deadSet.has(entry.node.id)) entry.node = target ?? this.picker.pick()!;
    }
  }

  pickForSipRequest(req: AlgorithmSipRequest): ServerNode | undefined {
    const callId = req.callId;
    const entry = this.calls.get(callId);
    if (entry && this.liveIds.has(entry.node.id) && entry.node.state !== 'bad') {
      entry.lastUsed = this.now();
      return entry.node;
    }
    const node = this.picker.pick();
    if (node) this.calls.set(callId, { node, lastUsed: this.now() });
    return node;
  }

  pickForAssignedSipRequest(req: AlgorithmSipRequest, assigned: ServerNode | undefined, version?: string): ServerNode | undefined {
    const registry = this.registry;
    const alive = assigned !== undefined && assigned.state !== 'bad' && (this.liveIds.has(assigned.id) || registry?.get(assigned.id) === assigned);
    if (alive) {
      // Graceful nodes keep their dialogs: only new calls avoid them.
      const entry = this.calls.get(req.callId);
      if (entry) {
        entry.node = assigned;
        entry.lastUsed = this.now();
      }
      return assigned;
    }
    // Mid-call failover stays within the dialog's version: an older version's nodes are not in the picker.
    if (version !== undefined && registry && version !== registry.latestVersion) {
      const candidates = activeNodes(registry.live(version));
      if (candidates.length === 0) return undefined;
      const node = candidates[fnv(req.callId) % candidates.length]!;
      this.calls.set(req.callId, { node, lastUsed: this.now() });
      return node;
    }
    return this.pickForSipRequest(req);
  }

  assignToNode(req: AlgorithmSipRequest, node: ServerNode): void {
    this.calls.set(req.callId, { node, lastUsed: this.now() });
  }

  pickForHttpRequest(_req: IncomingMessage): ServerNode | undefined {
    return this.picker.pick();
  }

  activeCalls(): number {
    return this.calls.size;
  }

  evictIdle(): void {
    const deadline = this.now() - this.maxIdleMs;
    for (const [callId, entry] of this.calls) if (entry.lastUsed < deadline) this.calls.delete(callId);
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.calls.clear();
  }
}

/** A stable small hash, so every instance fails a Call-ID over to the same node of an old version. */
function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

registerAlgorithm('call-id-affinity', () => new CallIdAffinityAlgorithm());
