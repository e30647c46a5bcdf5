// round-robin: every new call (and HTTP request without a session) goes to the next active node.

import type { IncomingMessage } from 'node:http';
import { activeNodes, registerAlgorithm, type AlgorithmSipRequest, type BalancerAlgorithm } from './algorithm.js';
import type { ServerNode } from '../registry/server-node.js';

/** A cheap cyclic picker over a fixed list, rebuilt when the node set changes. */
export class RoundRobinPicker {
  private nodes: ServerNode[] = [];
  private next = 0;

  update(nodes: ServerNode[]): void {
    this.nodes = nodes;
    if (this.next >= nodes.length) this.next = 0;
  }

  pick(): ServerNode | undefined {
    const n = this.nodes.length;
    if (n === 0) return undefined;
    const node = this.nodes[this.next % n];
    this.next = (this.next + 1) % n;
    return node;
  }

  get size(): number {
    return this.nodes.length;
  }
}

export class RoundRobinAlgorithm implements BalancerAlgorithm {
  readonly name: string = 'round-robin';
  protected readonly picker = new RoundRobinPicker();

  init(): void {}

  nodesChanged(live: readonly ServerNode[]): void {
    this.liveIds = new Set(live.map((n) => n.id));
    this.picker.update(activeNodes(live));
  }

  pickForSipRequest(_req: AlgorithmSipRequest): ServerNode | undefined {
    return this.picker.pick();
  }

  pickForAssignedSipRequest(_req: AlgorithmSipRequest, assigned: ServerNode | undefined): ServerNode | undefined {
    // A dialog stays on its node while the node lives (graceful nodes keep their dialogs).
    if (assigned && assigned.state !== 'bad' && this.isLive(assigned)) return assigned;
    return this.picker.pick();
  }

  pickForHttpRequest(_req: IncomingMessage): ServerNode | undefined {
    return this.picker.pick();
  }

  stop(): void {}

  private liveIds = new Set<string>();
  protected isLive(node: ServerNode): boolean {
    return this.liveIds.has(node.id);
  }
}

registerAlgorithm('round-robin', () => new RoundRobinAlgorithm());
