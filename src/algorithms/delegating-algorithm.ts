// An algorithm that wraps another (the live algorithm a reload may replace, the workers' same-choice wrapper):
// everything it does not override goes to `inner` unchanged.

import type { IncomingMessage } from 'node:http';
import type { AlgorithmContext, AlgorithmSipRequest, BalancerAlgorithm } from './algorithm.js';
import type { ServerNode } from '../registry/server-node.js';

export abstract class DelegatingAlgorithm implements BalancerAlgorithm {
  protected constructor(protected inner: BalancerAlgorithm) {}

  get name(): string {
    return this.inner.name;
  }

  abstract pickForSipRequest(req: AlgorithmSipRequest): ServerNode | undefined;

  init(ctx: AlgorithmContext): void | Promise<void> {
    return this.inner.init(ctx);
  }

  nodesChanged(live: readonly ServerNode[]): void {
    this.inner.nodesChanged(live);
  }

  assignToNode(req: AlgorithmSipRequest, node: ServerNode): void {
    this.inner.assignToNode?.(req, node);
  }

  pickForHttpRequest(req: IncomingMessage): ServerNode | undefined {
    return this.inner.pickForHttpRequest(req);
  }

  activeCalls(): number {
    return this.inner.activeCalls?.() ?? 0;
  }

  statistics(): Readonly<Record<string, number | boolean>> {
    return this.inner.statistics?.() ?? {};
  }

  stop(): void | Promise<void> {
    return this.inner.stop();
  }
}
