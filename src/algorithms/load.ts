// Builds the algorithm algorithmClass names: a built-in one, or a custom module (a path or package).

import { pathToFileURL } from 'node:url';
import { resolve, dirname } from 'node:path';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import { StartupError } from '../service.js';
import type { BalancerAlgorithm } from './algorithm.js';
import { createBuiltInAlgorithm, registeredAlgorithmNames } from './index.js';

const REQUIRED_METHODS = ['init', 'nodesChanged', 'pickForSipRequest', 'pickForHttpRequest', 'stop'] as const;

async function loadCustom(specifier: string, configFile: string): Promise<BalancerAlgorithm> {
  // Relative paths are relative to the configuration file, like every other path in it.
  const target = specifier.startsWith('.') || specifier.startsWith('/') ? pathToFileURL(resolve(dirname(configFile), specifier)).href : specifier;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(target)) as Record<string, unknown>;
  } catch (err) {
    throw new StartupError(`algorithmClass=${specifier}: the module could not be loaded: ${(err as Error).message}`);
  }
  const exported = mod.default ?? mod.createAlgorithm ?? mod.Algorithm;
  let instance: unknown;
  if (typeof exported === 'function') {
    const isClass = /^class\s/.test(Function.prototype.toString.call(exported));
    instance = isClass ? new (exported as new () => unknown)() : (exported as () => unknown)();
  } else {
    instance = exported;
  }
  const missing = REQUIRED_METHODS.filter((m) => typeof (instance as Record<string, unknown> | undefined)?.[m] !== 'function');
  if (instance === null || typeof instance !== 'object' || missing.length > 0) {
    throw new StartupError(
      `algorithmClass=${specifier}: the module must export (as default, createAlgorithm or Algorithm) a class or factory of an object with ${REQUIRED_METHODS.join(', ')}; missing: ${missing.join(', ') || 'everything'}`,
    );
  }
  const algo = instance as BalancerAlgorithm;
  return Object.hasOwn(algo, 'name') || 'name' in algo ? algo : Object.assign(algo, { name: specifier });
}

export async function loadAlgorithm(config: Config, registry: NodeRegistry, log: Logger): Promise<BalancerAlgorithm> {
  const { name, custom } = config.algorithm;
  const algorithm = custom ? await loadCustom(name, config.file) : createBuiltInAlgorithm(name);
  if (!algorithm) {
    throw new StartupError(`algorithmClass: the algorithm ${name} is not available in this build; available: ${registeredAlgorithmNames().join(', ')}`);
  }
  await algorithm.init({ config, properties: config.properties, registry, log });
  return algorithm;
}
