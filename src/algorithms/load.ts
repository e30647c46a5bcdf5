// Builds the algorithm algorithmClass names: a built-in one, or a custom module (a path or a package).

import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import { CustomAlgorithmError, StartupError } from '../errors.js';
import type { BalancerAlgorithm } from './algorithm.js';
import { loadCustomAlgorithm } from './custom.js';
import { createBuiltInAlgorithm, registeredAlgorithmNames } from './index.js';

export async function loadAlgorithm(config: Config, registry: NodeRegistry, log: Logger): Promise<BalancerAlgorithm> {
  const { name, custom } = config.algorithm;
  let algorithm: BalancerAlgorithm | undefined;
  try {
    algorithm = custom ? await loadCustomAlgorithm(name, config.file) : createBuiltInAlgorithm(name);
  } catch (err) {
    if (err instanceof CustomAlgorithmError) throw new StartupError(err.message);
    throw err;
  }
  if (!algorithm) {
    throw new StartupError(`algorithmClass: the algorithm ${name} is not available in this build; available: ${registeredAlgorithmNames().join(', ')}`);
  }
  try {
    await algorithm.init({ config, properties: config.properties, registry, log });
  } catch (err) {
    throw new StartupError(`algorithmClass=${name}: the algorithm could not start: ${(err as Error).message}`);
  }
  return algorithm;
}
