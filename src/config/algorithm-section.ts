// The algorithm section of lb.properties: algorithmClass and the keys every algorithm shares (affinity
// timers, the affinity key, slow start, the shared affinity store). The names and each algorithm's own keys
// come from the algorithms' registry, which provides itself here (provideAlgorithmCatalogue) when the
// algorithms are loaded: configuration knows no algorithm file.

import type { PropertyReader } from './reader.js';
import type { AlgorithmConfig } from './types.js';

/** Most affinity entries an algorithm keeps by default (least recently used evicted first). */
export const DEFAULT_AFFINITY_MAX_ENTRIES = 200_000;
/** How long a shared-store assignment lives after its last use, by default. */
export const DEFAULT_AFFINITY_TTL_SECONDS = 3600;
/** How long a pick waits for the shared store before deciding alone, by default. */
export const DEFAULT_AFFINITY_STORE_TIMEOUT_MS = 500;

/** The keys that belong to one algorithm, parsed by that algorithm's registered reader. */
export type AlgorithmOwnConfig = Pick<AlgorithmConfig, 'subclusterMap' | 'hashRingVirtualNodes' | 'activeStandbyFailback'>;

export type AlgorithmNameResult =
  | { readonly kind: 'built-in'; readonly name: string }
  | { readonly kind: 'module'; readonly specifier: string }
  | { readonly kind: 'unknown'; readonly reason: string };

/** What the algorithms' registry tells the configuration. */
export interface AlgorithmCatalogue {
  /** Resolves an algorithmClass value ('' is the default algorithm). */
  resolve(value: string): AlgorithmNameResult;
  /** The names to offer in an error message. */
  describeNames(): string;
  /**
   * Runs every built-in algorithm's reader of its own keys (all of them, so that a bad value stops start-up
   * with its line whichever algorithm is chosen) and merges what they read.
   */
  readOwnKeys(r: PropertyReader): AlgorithmOwnConfig;
}

let catalogue: AlgorithmCatalogue | undefined;

/** Called once by the algorithms' registry (src/algorithms/registry.ts) when it is loaded. */
export function provideAlgorithmCatalogue(c: AlgorithmCatalogue): void {
  catalogue = c;
}

export function readAlgorithmSection(r: PropertyReader): AlgorithmConfig {
  if (catalogue === undefined) {
    // A programming error, not an operator's: the composition root (and test/setup.ts) load the algorithms first.
    throw new Error('the algorithms are not loaded: import src/algorithms/index.js before reading a configuration');
  }
  const algoRaw = r.raw('algorithmClass');
  const resolved = catalogue.resolve(algoRaw?.value ?? '');
  let name = 'call-id-affinity';
  let custom = false;
  if (resolved.kind === 'built-in') name = resolved.name;
  else if (resolved.kind === 'module') {
    name = resolved.specifier;
    custom = true;
  } else {
    r.error(algoRaw, 'algorithmClass', `${resolved.reason}; expected one of ${catalogue.describeNames()}`);
  }
  r.sources.push(algoRaw ? { key: 'algorithmClass', value: name, source: 'file', line: algoRaw.line } : { key: 'algorithmClass', value: name, source: 'default' });
  const own = catalogue.readOwnKeys(r);
  const affinityStore = r.string('affinityStore');
  if (affinityStore !== undefined && !/^(redis|rediss):\/\/[^/\s]+/.test(affinityStore) && affinityStore !== 'memory') {
    r.error(r.raw('affinityStore'), 'affinityStore', 'expected memory or redis://host:port');
  }
  // The user-based algorithm's cache keys before 2016 (userAffinity*): they act for user-based unless the
  // callIdAffinity* key is set too; for any other algorithm they are warned about.
  const userAffinity: { maxTime?: number; groupFailover?: boolean } = {};
  for (const [key, general] of [['userAffinityMaxTimeInCache', 'callIdAffinityMaxTimeInCache'], ['userAffinityGroupFailover', 'callIdAffinityGroupFailover']] as const) {
    const p = r.raw(key);
    if (!p) continue;
    const value = key === 'userAffinityMaxTimeInCache' ? r.optionalInt(key, { min: 0, unit: 'seconds' }) : r.bool(key, false);
    if (name !== 'user-based') r.warn(p, key, `only the user-based algorithm reads it (algorithmClass is ${name}); use ${general}`);
    else if (r.has(general)) r.warn(p, key, `${general} is set too and wins`);
    else if (key === 'userAffinityMaxTimeInCache') userAffinity.maxTime = value as number | undefined;
    else userAffinity.groupFailover = value as boolean;
  }
  const algorithm: AlgorithmConfig = {
    name,
    custom,
    callIdAffinityMaxTimeInCacheSeconds: userAffinity.maxTime ?? r.int('callIdAffinityMaxTimeInCache', 500, { min: 0, unit: 'seconds' }),
    callIdAffinityMaxEntries: r.int('callIdAffinityMaxEntries', DEFAULT_AFFINITY_MAX_ENTRIES, { min: 1 }),
    callIdAffinityGroupFailover: userAffinity.groupFailover ?? r.bool('callIdAffinityGroupFailover', false),
    sipHeaderAffinityKey: r.string('sipHeaderAffinityKey', 'Call-ID')!,
    sipHeaderAffinityExclusionPattern: r.regex('sipHeaderAffinityExclusionPattern', ['sipHeaderAffinityKeyExclusionPattern']),
    sipHeaderAffinityFallbackKey: r.string('sipHeaderAffinityFallbackKey', 'Call-ID')!,
    httpAffinityKey: r.string('httpAffinityKey', 'appsession')!,
    trafficRampupCyclePeriodMs: r.optionalInt('trafficRampupCyclePeriod', { min: 1, unit: 'milliseconds' }),
    trafficPercentageIncrease: r.optionalInt('trafficPercentageIncrease', { min: 1, max: 100, unit: 'percent' }),
    affinityStore: affinityStore === 'memory' ? undefined : affinityStore,
    affinityStoreTimeoutMs: r.int('affinityStoreTimeout', DEFAULT_AFFINITY_STORE_TIMEOUT_MS, { min: 1, unit: 'milliseconds' }),
    affinityStoreTtlSeconds: r.int('affinityStoreTtl', DEFAULT_AFFINITY_TTL_SECONDS, { min: 1, unit: 'seconds' }),
    affinityStoreKeyPrefix: r.string('affinityStoreKeyPrefix'),
    ...own,
  };
  if ((algorithm.trafficRampupCyclePeriodMs === undefined) !== (algorithm.trafficPercentageIncrease === undefined)) {
    r.warn(undefined, 'trafficRampupCyclePeriod', 'slow start needs both trafficRampupCyclePeriod and trafficPercentageIncrease; it stays off');
  }
  return algorithm;
}
