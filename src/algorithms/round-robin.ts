// round-robin: every new call (and HTTP request without a session) goes to the next active node.

import type { IncomingMessage } from 'node:http';
import { activeNodes, registerAlgorithm, type AlgorithmContext, type AlgorithmSipRequest, type BalancerAlgorithm } from './algorithm.js';
import { NewCallPicker, rampUpOf } from './new-call-picker.js';
import type { ServerNode } from '../registry/server-node.js';

/** What picks the node of a new call: a plain cycle, or the weighted picker when slow start is on. */
export interface NewCallChooser {
  update(nodes: ServerNode[]): void;
  pick(): ServerNode | undefined;
  readonly size: number;
  /** The nodes it picks from. */
  readonly candidates: readonly ServerNode[];
}

/**
 * The chooser for new calls: a plain cycle (the cheapest pick), or, when trafficRampupCyclePeriod and
 * trafficPercentageIncrease are set, the weighted picker that gives newly joined nodes a growing share.
 */
export function newCallChooser(ctx: AlgorithmContext, now?: () => number): NewCallChooser {
  const rampUp = rampUpOf(ctx.config.algorithm);
  return rampUp.cyclePeriodMs && rampUp.percentageIncrease ? new NewCallPicker({ rampUp, now }) : new RoundRobinPicker();
}

/** A cheap cyclic picker over a fixed list, rebuilt when the node set changes. */
export class RoundRobinPicker implements NewCallChooser {
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

  get candidates(): readonly ServerNode[] {
    return this.nodes;
  }
}

export class RoundRobinAlgorithm implements BalancerAlgorithm {
  readonly name: string = 'round-robin';
  protected picker: NewCallChooser = new RoundRobinPicker();

  init(ctx: AlgorithmContext): void {
    this.picker = newCallChooser(ctx);
  }

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

registerAlgorithm('round-robin', () => new RoundRobinAlgorithm(), {
  description: 'every new call to the next active node',
  javaNames: ['DefaultBalancerAlgorithm', 'RoundRobinBalancerAlgorithm'],
});
