// active-standby (the original's ActiveStandbyAlgorithm): one node takes all SIP and HTTP traffic until
// it dies, turns bad or drains (graceful); then the longest-registered active node takes over and keeps
// the traffic even when the old one comes back (no flapping back and forth). With activeStandbyFailback=true
// the active node is always the first active one by address (ip:port), so traffic returns to the primary.

import type { IncomingMessage } from 'node:http';
import { registerAlgorithm, type AlgorithmContext, type AlgorithmSipRequest, type BalancerAlgorithm } from './algorithm.js';
import type { ServerNode } from '../registry/server-node.js';
import { ringKeyOf } from './header-consistent-hash.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';

export class ActiveStandbyAlgorithm implements BalancerAlgorithm {
  readonly name = 'active-standby';
  private current: ServerNode | undefined;
  private live = new Map<string, ServerNode>();
  private log: Logger = silentLogger();
  private failback = false;

  init(ctx: AlgorithmContext): void {
    this.log = ctx.log;
    this.failback = ctx.config.algorithm.activeStandbyFailback;
  }

  nodesChanged(live: readonly ServerNode[]): void {
    this.live = new Map(live.map((n) => [n.id, n]));
    const cur = this.current && this.live.get(this.current.id);
    if (cur && cur.state === 'active' && !this.failback) {
      this.current = cur;
      return;
    }
    const previous = this.current;
    // The standby: the active node this instance has known longest (ties by id); with failback the
    // first by address, which every balancer instance agrees on.
    let next: ServerNode | undefined;
    for (const node of live) {
      if (node.state !== 'active') continue;
      if (!next || this.before(node, next)) next = node;
    }
    this.current = next;
    if (next !== previous) {
      if (next) this.log.warn(`active-standby: ${next} is now the active node${previous ? ` (was ${previous}, now ${cur ? cur.state : 'gone'})` : ''}`);
      else this.log.warn('active-standby: no active node left');
    }
  }

  private before(a: ServerNode, b: ServerNode): boolean {
    if (this.failback) {
      const ka = ringKeyOf(a);
      const kb = ringKeyOf(b);
      if (ka !== kb) return ka < kb;
    } else if (a.registeredAt !== b.registeredAt) {
      return a.registeredAt < b.registeredAt;
    }
    return a.id < b.id;
  }

  /** The node that takes the traffic now. */
  get activeNode(): ServerNode | undefined {
    return this.current;
  }

  pickForSipRequest(_req: AlgorithmSipRequest): ServerNode | undefined {
    return this.current;
  }

  pickForAssignedSipRequest(_req: AlgorithmSipRequest, assigned: ServerNode | undefined): ServerNode | undefined {
    // A dialog set up on the previous active node finishes there while that node lives.
    if (assigned && this.live.has(assigned.id) && assigned.state !== 'bad') return assigned;
    return this.current;
  }

  pickForHttpRequest(_req: IncomingMessage): ServerNode | undefined {
    return this.current;
  }

  stop(): void {
    this.current = undefined;
  }
}

registerAlgorithm('active-standby', () => new ActiveStandbyAlgorithm(), {
  description: 'one node takes all traffic until it fails',
  javaNames: ['ActiveStandbyAlgorithm'],
  readConfig: (r) => ({ activeStandbyFailback: r.bool('activeStandbyFailback', false) }),
});
