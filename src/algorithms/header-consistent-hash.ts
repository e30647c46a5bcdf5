// header-consistent-hash (the original's HeaderConsistentHashBalancerAlgorithm and
// PureConsistentHashBalancerAlgorithm): the node for a request is the owner of its affinity key's hash
// on a ring with virtual nodes. Stateless, so every balancer instance with the same node list makes the
// same choice (distributable), and a dead node's keys spread evenly over the survivors.

import type { IncomingMessage } from 'node:http';
import { activeNodes, registerAlgorithm, type AlgorithmContext, type AlgorithmSipRequest, type BalancerAlgorithm } from './algorithm.js';
import { affinityKeyFunction, httpQueryParameter, type SipKeyExtractor } from './affinity-key.js';
import { DEFAULT_VIRTUAL_NODES, HashRing } from './hash-ring.js';
import type { ServerNode } from '../registry/server-node.js';

/**
 * Where a node sits on the ring: its `hashKey` property when it sent one, else ip:port of its first SIP
 * port. Never the session id, which changes on restart and differs in nothing the other instances see.
 */
export function ringKeyOf(node: ServerNode): string {
  const explicit = node.properties.hashKey;
  if (explicit !== undefined && explicit !== '') return explicit;
  const p = node.ports;
  return `${node.ip}:${p.udp ?? p.tcp ?? p.tls ?? p.ws ?? p.wss ?? node.httpPort ?? ''}`;
}

export class HeaderConsistentHashAlgorithm implements BalancerAlgorithm {
  readonly name: string = 'header-consistent-hash';
  protected ring = new HashRing<ServerNode>(ringKeyOf);
  protected keyOf: SipKeyExtractor = (req) => req.callId;
  protected httpKey = 'appsession';
  protected live = new Set<string>();

  init(ctx: AlgorithmContext): void {
    const a = ctx.config.algorithm;
    this.ring = new HashRing<ServerNode>(ringKeyOf, ctx.config.algorithm.hashRingVirtualNodes);
    this.keyOf = affinityKeyFunction({ key: a.sipHeaderAffinityKey, exclusionPattern: a.sipHeaderAffinityExclusionPattern, fallbackKey: a.sipHeaderAffinityFallbackKey });
    this.httpKey = a.httpAffinityKey;
    ctx.log.info(`${this.name}: affinity key ${a.sipHeaderAffinityKey} (fallback ${a.sipHeaderAffinityFallbackKey}), HTTP parameter ${a.httpAffinityKey}`);
  }

  nodesChanged(live: readonly ServerNode[]): void {
    this.live = new Set(live.map((n) => n.id));
    // Only active nodes own arcs: a graceful or bad node's arcs go to the survivors (its dialogs keep
    // their node through the Record-Route hint).
    this.ring.build(activeNodes(live));
  }

  /** The ring's node for a key (no memory). */
  nodeForKey(key: string): ServerNode | undefined {
    return this.ring.lookup(key);
  }

  pickForSipRequest(req: AlgorithmSipRequest): ServerNode | undefined {
    return this.ring.lookup(this.keyOf(req));
  }

  affinityKeyOf(req: AlgorithmSipRequest): string {
    return this.keyOf(req);
  }

  pickForAssignedSipRequest(req: AlgorithmSipRequest, assigned: ServerNode | undefined): ServerNode | undefined {
    if (assigned && this.live.has(assigned.id) && assigned.state !== 'bad') return assigned;
    return this.pickForSipRequest(req);
  }

  /** The node for the httpAffinityKey query parameter; undefined (the HTTP balancer decides) without one. */
  pickForHttpRequest(req: IncomingMessage): ServerNode | undefined {
    const value = httpQueryParameter(req, this.httpKey);
    return value === undefined ? undefined : this.ring.lookup(value);
  }

  stop(): void {}
}

registerAlgorithm('header-consistent-hash', () => new HeaderConsistentHashAlgorithm(), {
  description: 'consistent hash ring over a SIP header / HTTP parameter',
  javaNames: ['HeaderConsistentHashBalancerAlgorithm', 'PureConsistentHashBalancerAlgorithm'],
  readConfig: (r) => ({ hashRingVirtualNodes: r.int('hashRingVirtualNodes', DEFAULT_VIRTUAL_NODES, { min: 1, max: 100_000 }) }),
});
