// The one registry of built-in algorithms (as grpc-js registers its load-balancing policies): each
// algorithm's file registers its name, its factory, the Java class names of the original that mean it, and
// the reader of its own lb.properties keys. The configuration learns the names and readers from here.

import { provideAlgorithmCatalogue, type AlgorithmNameResult, type AlgorithmOwnConfig } from '../config/algorithm-section.js';
import type { PropertyReader } from '../config/reader.js';
import type { AlgorithmFactory } from './algorithm.js';

export interface AlgorithmRegistration {
  /** One line on what it does, for messages. */
  readonly description?: string;
  /** Java class simple names of the original (and its docs) that mean this algorithm. */
  readonly javaNames?: readonly string[];
  /** Reads and validates this algorithm's own keys, once, when the configuration is loaded. */
  readonly readConfig?: (r: PropertyReader) => Partial<AlgorithmOwnConfig>;
}

interface Entry extends AlgorithmRegistration {
  readonly factory: AlgorithmFactory;
}

const DEFAULT_ALGORITHM = 'call-id-affinity';
const entries = new Map<string, Entry>();
const javaNames = new Map<string, string>();

/** Java algorithms of the original that this daemon deliberately does not have, with the reason. */
const NOT_PROVIDED: Readonly<Record<string, string>> = {
  TelestaxProxyAlgorithm: 'a commercial DID-routing proxy backed by a MyBatis database; it is not part of this load balancer',
  WorstCaseUdpTestAffinityAlgorithm: "a test-only algorithm of the original's own test suite",
};

/** Registers a built-in algorithm under its name (done by each algorithm's file). */
export function registerAlgorithm(name: string, factory: AlgorithmFactory, registration: AlgorithmRegistration = {}): void {
  entries.set(name, { ...registration, factory });
  for (const java of registration.javaNames ?? []) javaNames.set(java, name);
}

export function algorithmFactory(name: string): AlgorithmFactory | undefined {
  return entries.get(name)?.factory;
}

export function registeredAlgorithmNames(): string[] {
  return [...entries.keys()].sort();
}

/**
 * Resolves an algorithmClass value: a built-in name, a Java class name of the original matched on its last
 * segment (so the manual's misspelt packages org.mobicens…, org.mobicients… work), or a custom module.
 */
export function resolveAlgorithmName(value: string): AlgorithmNameResult {
  const v = value.trim();
  if (v === '') return { kind: 'built-in', name: DEFAULT_ALGORITHM };
  const lower = v.toLowerCase();
  if (entries.has(lower)) return { kind: 'built-in', name: lower };
  // A path (./x.js, ../x.mjs, /abs/x.js) or a package name given with the npm: prefix.
  if (/^(\.{1,2}\/|\/)/.test(v) || /\.(c|m)?js$/.test(v)) return { kind: 'module', specifier: v };
  if (v.startsWith('npm:')) return { kind: 'module', specifier: v.slice(4) };
  const last = v.slice(v.lastIndexOf('.') + 1);
  const java = javaNames.get(last);
  if (java !== undefined) return { kind: 'built-in', name: java };
  if (Object.hasOwn(NOT_PROVIDED, last)) return { kind: 'unknown', reason: `${last} is ${NOT_PROVIDED[last]}` };
  return { kind: 'unknown', reason: 'not a known algorithm' };
}

/** The names to offer in an error message. */
export function supportedAlgorithmNames(): string {
  return `${[...entries.keys()].join(', ')}; the Java names ${[...javaNames.keys()].join(', ')}; or a path to a .js module`;
}

provideAlgorithmCatalogue({
  resolve: resolveAlgorithmName,
  describeNames: supportedAlgorithmNames,
  readOwnKeys(r) {
    const own: Partial<AlgorithmOwnConfig> = {};
    for (const entry of entries.values()) Object.assign(own, entry.readConfig?.(r));
    return own as AlgorithmOwnConfig;
  },
});
