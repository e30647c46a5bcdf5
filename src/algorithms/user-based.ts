// user-based (the original's UserBasedAlgorithm): affinity by user, so every call to (or from) one user
// lands on one node. The key is sipHeaderAffinityKey when set (default here: To, i.e. the To user or tel
// number; From gives the From URI), with the exclusion pattern and fallback key.

import { registerAlgorithm, type AlgorithmContext } from './algorithm.js';
import { AffinityMapAlgorithm } from './affinity-map.js';
import { affinityKeyFunction } from './affinity-key.js';

export class UserBasedAlgorithm extends AffinityMapAlgorithm {
  readonly name = 'user-based';

  constructor() {
    super();
    // A user's next call is a new call: it must not go to a node that is shutting down.
    this.reuseGraceful = false;
  }

  protected override configure(ctx: AlgorithmContext): void {
    const a = ctx.config.algorithm;
    // Call-ID (the key's general default) would make this plain Call-ID affinity; the user is the point.
    const key = ctx.properties.sipHeaderAffinityKey?.trim() ? a.sipHeaderAffinityKey : 'To';
    this.keyOf = affinityKeyFunction({ key, exclusionPattern: a.sipHeaderAffinityExclusionPattern, fallbackKey: a.sipHeaderAffinityFallbackKey });
    ctx.log.info(`user-based: affinity key ${key}, fallback ${a.sipHeaderAffinityFallbackKey}`);
  }
}

registerAlgorithm('user-based', () => new UserBasedAlgorithm(), { description: 'affinity by To user / From URI', javaNames: ['UserBasedAlgorithm'] });
