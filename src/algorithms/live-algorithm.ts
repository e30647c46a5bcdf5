// The algorithm the protocol services hold: it delegates to the configured algorithm, which a hot reload
// may replace while traffic flows, and counts on each node the new calls and requests it was given.

import type { IncomingMessage } from 'node:http';
import type { AlgorithmSipRequest, BalancerAlgorithm } from './algorithm.js';
import { DelegatingAlgorithm } from './delegating-algorithm.js';
import type { ServerNode } from '../registry/server-node.js';

export class LiveAlgorithm extends DelegatingAlgorithm {
  constructor(inner: BalancerAlgorithm) {
    super(inner);
  }

  /** The algorithm picks are delegated to. */
  get current(): BalancerAlgorithm {
    return this.inner;
  }

  /**
   * Puts `next` (initialised, already told of the live nodes) in place of the current algorithm and
   * returns the old one for the caller to stop. Picks made after this call go to `next`.
   */
  replace(next: BalancerAlgorithm): BalancerAlgorithm {
    const old = this.inner;
    this.inner = next;
    return old;
  }

  pickForSipRequest(req: AlgorithmSipRequest): ServerNode | undefined {
    return countedNewCall(this.inner.pickForSipRequest(req));
  }

  pickForAssignedSipRequest(req: AlgorithmSipRequest, assigned: ServerNode | undefined, version: string): ServerNode | undefined {
    const inner = this.inner;
    // The forwarder's own rule when the algorithm has none: the assigned node while it is not bad.
    const node = inner.pickForAssignedSipRequest
      ? inner.pickForAssignedSipRequest(req, assigned, version)
      : assigned && assigned.state !== 'bad' ? assigned : inner.pickForSipRequest(req);
    if (node) node.routedRequests++;
    return node;
  }

  override pickForHttpRequest(req: IncomingMessage): ServerNode | undefined {
    return countedNewCall(this.inner.pickForHttpRequest(req));
  }
}

/** Counts a new call (or HTTP request) on the node the algorithm placed it on, for /lbinfo and the dashboard. */
function countedNewCall(node: ServerNode | undefined): ServerNode | undefined {
  if (node) {
    node.newCalls++;
    node.routedRequests++;
  }
  return node;
}
