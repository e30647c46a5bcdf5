// persistent-consistent-hash (the original's PersistentConsistentHashBalancerAlgorithm): a key keeps the
// node it was first given even when nodes are added or removed; only new keys (and keys of dead nodes)
// follow the hash ring. Assignments live in an AffinityStore: in memory, or shared by every balancer
// instance through Redis (affinityStore=redis://host:port), which makes the algorithm distributable.

import type { IncomingMessage } from 'node:http';
import type { AlgorithmContext, AlgorithmSipRequest } from './algorithm.js';
import { registerAlgorithm } from './algorithm.js';
import { MemoryAffinityStore, type AffinityStore, type AffinityStoreStats } from './affinity-store.js';
import { httpQueryParameter } from './affinity-key.js';
import { HeaderConsistentHashAlgorithm, ringKeyOf } from './header-consistent-hash.js';
import type { ServerNode } from '../registry/server-node.js';
import { DEFAULT_AFFINITY_TTL_SECONDS } from '../config/algorithm-section.js';

/** The store the configuration asks for (not started). */
export async function createAffinityStore(ctx: AlgorithmContext): Promise<AffinityStore> {
  const a = ctx.config.algorithm;
  const url = a.affinityStore;
  if (url === undefined) return new MemoryAffinityStore({ ttlMs: a.affinityStoreTtlSeconds * 1000 });
  // Loaded only when configured, so a balancer without Redis never loads the client.
  const { RedisAffinityStore } = await import('./affinity-store-redis.js');
  return new RedisAffinityStore({
    url,
    ttlMs: a.affinityStoreTtlSeconds * 1000,
    timeoutMs: a.affinityStoreTimeoutMs,
    keyPrefix: a.affinityStoreKeyPrefix,
    log: ctx.log,
  });
}

export class PersistentConsistentHashAlgorithm extends HeaderConsistentHashAlgorithm {
  override readonly name: string = 'persistent-consistent-hash';
  private store: AffinityStore = new MemoryAffinityStore({ ttlMs: DEFAULT_AFFINITY_TTL_SECONDS * 1000 });
  /** Live nodes by ring key: stored assignments name nodes by the key every instance knows them by. */
  private byRingKey = new Map<string, ServerNode>();

  /** Uses `store` instead of the configured one (tests, embedding). */
  constructor(store?: AffinityStore) {
    super();
    if (store) {
      this.store = store;
      this.storeGiven = true;
    }
  }

  private storeGiven = false;

  override async init(ctx: AlgorithmContext): Promise<void> {
    super.init(ctx);
    if (!this.storeGiven) this.store = await createAffinityStore(ctx);
    await this.store.start();
  }

  override nodesChanged(live: readonly ServerNode[]): void {
    super.nodesChanged(live);
    this.byRingKey = new Map(live.map((n) => [ringKeyOf(n), n]));
  }

  override pickForSipRequest(req: AlgorithmSipRequest): ServerNode | undefined {
    return this.pickForKey(this.keyOf(req));
  }

  /** The node for `key`: its remembered node while that lives and is not bad, else the ring's (remembered). */
  pickForKey(key: string): ServerNode | undefined {
    const stored = this.store.get(key);
    if (stored !== undefined) {
      const node = this.byRingKey.get(stored);
      if (node && node.state !== 'bad') return node;
    }
    const node = this.ring.lookup(key);
    if (node) this.store.set(key, ringKeyOf(node), stored !== undefined);
    return node;
  }

  /** The remembered node for the httpAffinityKey parameter; undefined (the HTTP balancer decides) without one. */
  override pickForHttpRequest(req: IncomingMessage): ServerNode | undefined {
    const value = httpQueryParameter(req, this.httpKey);
    return value === undefined ? undefined : this.pickForKey(value);
  }

  override pickForAssignedSipRequest(req: AlgorithmSipRequest, assigned: ServerNode | undefined): ServerNode | undefined {
    if (assigned && this.live.has(assigned.id) && assigned.state !== 'bad') {
      this.assignToNode(req, assigned);
      return assigned;
    }
    return this.pickForSipRequest(req);
  }

  assignToNode(req: AlgorithmSipRequest, node: ServerNode): void {
    const key = this.keyOf(req);
    const ringKey = ringKeyOf(node);
    const stored = this.store.get(key);
    if (stored !== ringKey) this.store.set(key, ringKey, stored !== undefined);
  }

  activeCalls(): number {
    return this.store.stats().entries;
  }

  /** The store's counters (entries, shared writes, errors, outages…), for statistics. */
  storeStats(): AffinityStoreStats {
    return this.store.stats();
  }

  statistics(): Readonly<Record<string, number | boolean>> {
    return { ...this.store.stats() };
  }

  override async stop(): Promise<void> {
    await this.store.stop();
  }
}

registerAlgorithm('persistent-consistent-hash', () => new PersistentConsistentHashAlgorithm(), {
  description: 'consistent hash that remembers assignments (memory or Redis)',
  javaNames: ['PersistentConsistentHashBalancerAlgorithm'],
});
