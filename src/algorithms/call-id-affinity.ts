// call-id-affinity (the default; the original's CallIDAffinityBalancerAlgorithm): a Call-ID → node map on the
// base its siblings share (affinity-map.ts), new Call-IDs round robin over active nodes; the map is bounded.

import { activeNodes, registerAlgorithm, type AlgorithmContext, type AlgorithmSipRequest } from './algorithm.js';
import { RoundRobinPicker, newCallChooser, type NewCallChooser } from './round-robin.js';
import type { ServerNode } from '../registry/server-node.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import { AffinityMapAlgorithm } from './affinity-map.js';
import { fnv1a } from './hash.js';

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

export class CallIdAffinityAlgorithm extends AffinityMapAlgorithm<NewCallChooser> {
  readonly name: string = 'call-id-affinity';
  /** Active nodes by id, for the hashed pick of requests that create no entry. */
  private active: ServerNode[] = [];
  private registry: NodeRegistry | undefined;

  constructor(opts: { now?: () => number } = {}) {
    super();
    this.picker = new RoundRobinPicker();
    if (opts.now) this.now = opts.now;
  }

  protected override configure(ctx: AlgorithmContext): void {
    this.registry = ctx.registry;
  }

  /** A plain cycle (the cheapest pick), or the ramp-up picker when ramp-up is configured; no weights. */
  protected override newPicker(ctx: AlgorithmContext): NewCallChooser {
    return newCallChooser(ctx, this.now);
  }

  protected override createsEntry(req: AlgorithmSipRequest): boolean {
    return CREATES_ENTRY.has(req.method);
  }

  /** Hashed over the active nodes: its retransmissions and an authenticated retry reach the same node. */
  protected override pickWithoutEntry(req: AlgorithmSipRequest): ServerNode | undefined {
    const n = this.active.length;
    return n === 0 ? undefined : this.active[fnv1a(req.callId) % n];
  }

  /** With group failover, one node (the next in turn) takes all the calls of a dead node. */
  protected override failoverTarget(_dead: ServerNode): ServerNode | undefined {
    return this.groupFailover ? this.picker.pick() : undefined;
  }

  override nodesChanged(live: readonly ServerNode[]): void {
    this.active = activeNodes(live);
    super.nodesChanged(live);
  }

  override pickForAssignedSipRequest(req: AlgorithmSipRequest, assigned: ServerNode | undefined, version?: string): ServerNode | undefined {
    const registry = this.registry;
    const alive = assigned !== undefined && assigned.state !== 'bad' && (this.live.has(assigned.id) || registry?.get(assigned.id) === assigned);
    if (alive) {
      // Graceful nodes keep their dialogs: only new calls avoid them.
      if (this.entries.peek(req.callId)) this.entries.set(req.callId, assigned);
      return assigned;
    }
    // Mid-call failover stays within the dialog's version: an older version's nodes are not in the picker.
    if (version !== undefined && registry && version !== registry.latestVersion) {
      const candidates = activeNodes(registry.live(version));
      if (candidates.length === 0) return undefined;
      const node = candidates[fnv1a(req.callId) % candidates.length]!;
      this.assignToNode(req, node);
      return node;
    }
    return this.pickForSipRequest(req);
  }
}

registerAlgorithm('call-id-affinity', () => new CallIdAffinityAlgorithm(), {
  description: 'Call-ID → node map, new calls round robin (the default)',
  javaNames: ['CallIDAffinityBalancerAlgorithm'],
});
