// least-calls: a new call goes to the active node with the fewest active Call-IDs (divided by its
// weight and ramp-up share, so a node that just joined is not flooded), then Call-ID affinity.

import { registerAlgorithm, type AlgorithmSipRequest } from './algorithm.js';
import { AffinityMapAlgorithm } from './affinity-map.js';
import type { ServerNode } from '../registry/server-node.js';

export class LeastCallsAlgorithm extends AffinityMapAlgorithm {
  readonly name = 'least-calls';
  /** Where the scan starts, rotated so that ties are broken round robin. */
  private start = 0;

  constructor() {
    super();
    this.useWeights = true;
  }

  protected override pickNew(_req: AlgorithmSipRequest): ServerNode | undefined {
    const nodes = this.picker.candidates;
    const n = nodes.length;
    let best: ServerNode | undefined;
    let bestLoad = Infinity;
    for (let j = 0; j < n; j++) {
      const i = (this.start + j) % n;
      const node = nodes[i]!;
      const weight = this.picker.weightAt(i);
      if (weight <= 0) continue;
      const load = (this.callsOn(node) + 1) / weight;
      if (load < bestLoad) {
        best = node;
        bestLoad = load;
      }
    }
    this.start = n > 0 ? (this.start + 1) % n : 0;
    return best;
  }
}

registerAlgorithm('least-calls', () => new LeastCallsAlgorithm(), { description: 'new calls to the node with the fewest active calls' });
