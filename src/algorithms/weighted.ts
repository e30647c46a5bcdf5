// weighted: new calls by a smooth weighted round robin over the nodes' `weight` property (from the
// heartbeat start message; default 1, 0 = no new calls), then Call-ID affinity like the default algorithm.

import { registerAlgorithm } from './algorithm.js';
import { AffinityMapAlgorithm } from './affinity-map.js';

export class WeightedAlgorithm extends AffinityMapAlgorithm {
  readonly name = 'weighted';

  constructor() {
    super();
    this.useWeights = true;
  }
}

registerAlgorithm('weighted', () => new WeightedAlgorithm(), { description: 'smooth weighted round robin with Call-ID affinity' });
