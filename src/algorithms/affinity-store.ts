// Where persistent-consistent-hash remembers which node a key was given: an in-memory map with a TTL
// (one balancer), or the same map mirrored through Redis (several balancers: affinity-store-redis.ts).
// Reads are always local and synchronous, so a SIP message never waits for the store.

import type { Logger } from '../log.js';
import { guardedInterval } from '../timers.js';

export interface AffinityStoreStats {
  /** Entries in the local map. */
  entries: number;
  /** Assignments written to the shared store. */
  sharedWrites: number;
  /** Writes or reads of the shared store that failed or timed out. */
  sharedErrors: number;
  /** Assignments received from other balancer instances. */
  remoteUpdates: number;
  /** Keys another instance had assigned first (its choice wins). */
  conflicts: number;
  /** Times the shared store became unreachable. */
  outages: number;
  /** Whether the shared store is reachable now (true for the in-memory store). */
  connected: boolean;
}

export interface AffinityStore {
  /** The node key (ring key) assigned to `key`, from the local map; refreshes the entry's TTL. */
  get(key: string): string | undefined;
  /**
   * Assigns `key` to `nodeKey` locally at once and shares it in the background (never waits).
   * `replace` overwrites another instance's assignment (failover); otherwise the first assignment wins.
   */
  set(key: string, nodeKey: string, replace?: boolean): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  stats(): AffinityStoreStats;
}

export interface MemoryStoreOptions {
  readonly ttlMs: number;
  readonly now?: () => number;
  readonly log?: Logger;
}

interface Entry {
  nodeKey: string;
  expiresAt: number;
}

/** The in-memory store; also the local mirror under the Redis store. */
export class MemoryAffinityStore implements AffinityStore {
  protected readonly entries = new Map<string, Entry>();
  protected readonly ttlMs: number;
  protected readonly now: () => number;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(opts: MemoryStoreOptions) {
    this.ttlMs = opts.ttlMs;
    this.now = opts.now ?? Date.now;
  }

  get(key: string): string | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const now = this.now();
    if (entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    this.refreshed(key, entry, now);
    entry.expiresAt = now + this.ttlMs;
    return entry.nodeKey;
  }

  set(key: string, nodeKey: string, _replace = false): void {
    this.setLocal(key, nodeKey, this.ttlMs);
  }

  /** Sets the local entry, expiring in `ttlMs`. */
  setLocal(key: string, nodeKey: string, ttlMs: number): void {
    const entry = this.entries.get(key);
    if (entry) {
      entry.nodeKey = nodeKey;
      entry.expiresAt = this.now() + ttlMs;
    } else {
      this.entries.set(key, { nodeKey, expiresAt: this.now() + ttlMs });
    }
  }

  /** Subclass hook: an entry's TTL is about to be extended. */
  protected refreshed(_key: string, _entry: Entry, _now: number): void {}

  async start(): Promise<void> {
    // One sweep for all entries; at most every 10 s, so a short TTL does not spin.
    this.sweepTimer = guardedInterval('Affinity store sweep', Math.min(10_000, Math.max(1000, this.ttlMs / 4)), () => this.sweep());
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }

  stats(): AffinityStoreStats {
    return { entries: this.entries.size, sharedWrites: 0, sharedErrors: 0, remoteUpdates: 0, conflicts: 0, outages: 0, connected: true };
  }
}
