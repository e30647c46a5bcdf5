// With workers, the node of a new call must not depend on which worker a datagram reached: an INVITE, its
// retransmission, its CANCEL and its non-2xx ACK may each land on another worker. Algorithms whose first
// choice is per-process state (a round-robin cursor, a call counter) are wrapped so that the first choice
// is a weighted rendezvous hash of the call's affinity key over the active nodes, which every worker
// computes alike from the same node list (the primary's broadcast).

import { activeNodes, type AlgorithmSipRequest, type BalancerAlgorithm } from '../algorithms/algorithm.js';
import { DelegatingAlgorithm } from '../algorithms/delegating-algorithm.js';
import { fmix32, fnv1a } from '../algorithms/hash.js';
import { nodeWeight } from '../algorithms/new-call-picker.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import type { ServerNode } from '../registry/server-node.js';

/** Built-in algorithms whose choice is already a function of the request and the node list. */
const SAME_IN_EVERY_PROCESS = new Set(['header-consistent-hash', 'persistent-consistent-hash', 'active-standby']);
/** Built-in algorithms that give nodes shares by their `weight` property. */
const WEIGHTED = new Set(['weighted', 'least-calls']);

/** The algorithm to use in a worker: `inner` itself when its choice is the same everywhere, else wrapped. */
export function sameChoiceInEveryWorker(inner: BalancerAlgorithm, registry: NodeRegistry): BalancerAlgorithm {
  if (SAME_IN_EVERY_PROCESS.has(inner.name) || (inner as { sameChoiceInEveryProcess?: boolean }).sameChoiceInEveryProcess === true) return inner;
  return new RendezvousFirstChoice(inner, registry);
}

interface Candidate {
  readonly node: ServerNode;
  readonly idHash: number;
  readonly weight: number;
}

/**
 * Weighted rendezvous (highest random weight) hashing: each node scores -weight / ln(u) with u uniform
 * from hash(key, node); the highest wins. Removing a node moves only its keys, adding one takes only
 * its share: so a change of the node list in flight disturbs as few calls as possible.
 */
export function rendezvousPick(key: string, candidates: readonly Candidate[]): ServerNode | undefined {
  const k = fnv1a(key);
  let best: ServerNode | undefined;
  let bestScore = -Infinity;
  for (const c of candidates) {
    if (c.weight <= 0) continue;
    const u = (fmix32(k ^ c.idHash) + 0.5) / 4294967296;
    const score = -c.weight / Math.log(u);
    if (score > bestScore) {
      bestScore = score;
      best = c.node;
    }
  }
  return best;
}

export function candidatesOf(nodes: readonly ServerNode[], weighted: boolean): Candidate[] {
  return activeNodes(nodes).map((node) => ({ node, idHash: fnv1a(node.id), weight: weighted ? nodeWeight(node) : 1 }));
}

class RendezvousFirstChoice extends DelegatingAlgorithm {
  private candidates: Candidate[] = [];
  private readonly weighted: boolean;
  private readonly keyOf: (req: AlgorithmSipRequest) => string;

  constructor(
    inner: BalancerAlgorithm,
    private readonly registry: NodeRegistry,
  ) {
    super(inner);
    this.weighted = WEIGHTED.has(inner.name);
    // The map-based algorithms key calls by their affinity key (the user for user-based); keep it.
    const own = (inner as { keyOf?: unknown }).keyOf;
    this.keyOf = typeof own === 'function' ? (req) => (own as (r: AlgorithmSipRequest) => string).call(inner, req) : (req) => req.callId;
  }

  override nodesChanged(live: readonly ServerNode[]): void {
    this.inner.nodesChanged(live);
    this.candidates = candidatesOf(live, this.weighted);
  }

  pickForSipRequest(req: AlgorithmSipRequest): ServerNode | undefined {
    const node = rendezvousPick(this.keyOf(req), this.candidates);
    // The inner algorithm keeps its books (active calls, least-calls counts) with the choice made here.
    if (node) this.inner.assignToNode?.(req, node);
    return node;
  }

  pickForAssignedSipRequest(req: AlgorithmSipRequest, assigned: ServerNode | undefined, version: string): ServerNode | undefined {
    if (assigned && assigned.state !== 'bad' && this.registry.get(assigned.id) === assigned) {
      this.inner.assignToNode?.(req, assigned);
      return assigned;
    }
    // The dialog's node is gone: every worker fails it over to the same node of the dialog's version.
    const pool = version === this.registry.latestVersion ? this.candidates : candidatesOf(this.registry.live(version), this.weighted);
    const node = rendezvousPick(this.keyOf(req), pool);
    if (node) this.inner.assignToNode?.(req, node);
    return node;
  }
}
