// Loads every built-in algorithm (each file registers itself by name) and builds the configured one.

import { algorithmFactory, registeredAlgorithmNames, type BalancerAlgorithm } from './algorithm.js';
import './round-robin.js';
import './call-id-affinity.js';
import './header-consistent-hash.js';
import './persistent-consistent-hash.js';
import './cluster-subdomain-affinity.js';
import './user-based.js';
import './active-standby.js';
import './weighted.js';
import './least-calls.js';

export { registeredAlgorithmNames };

/** A new instance of the built-in algorithm `name`, or undefined when it is not in this build. */
export function createBuiltInAlgorithm(name: string): BalancerAlgorithm | undefined {
  return algorithmFactory(name)?.();
}
