// The affinity store shared by several balancer instances through Redis (affinityStore=redis://host:port).
// Every instance keeps a full local mirror fed by a pub/sub channel and a SCAN at (re)connection, so a
// pick reads memory only and never waits on the network; writes go out in the background (SET NX PX +
// PUBLISH). When Redis is unreachable the balancer routes with its local map and the ring alone, logs
// once, counts, reconnects, and shares what it assigned meanwhile when Redis returns.

import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../log.js';
import { MemoryAffinityStore, type AffinityStoreStats } from './affinity-store.js';

export interface RedisStoreOptions {
  /** redis://[user:password@]host:port[/db] */
  readonly url: string;
  readonly ttlMs: number;
  /** The longest a Redis command or connection attempt may take. */
  readonly timeoutMs: number;
  readonly keyPrefix?: string;
  readonly log: Logger;
  readonly now?: () => number;
  /** Most keys read back from Redis at (re)connection. */
  readonly maxSyncKeys?: number;
}

export const DEFAULT_KEY_PREFIX = 'sipbalancer:affinity:';

export class RedisAffinityStore extends MemoryAffinityStore {
  private readonly opts: RedisStoreOptions;
  private readonly prefix: string;
  private readonly channel: string;
  private readonly instance = randomUUID();
  private readonly log: Logger;
  private client: Redis | undefined;
  private subscriber: Redis | undefined;
  private connected = false;
  private reportedDown = false;
  private stopping = false;
  /** Keys assigned while Redis was unreachable, shared once it returns. */
  private readonly unshared = new Set<string>();
  /** When each key's TTL was last extended in Redis (keys refreshed locally are extended at most every ttl/4). */
  private readonly sharedAt = new Map<string, number>();
  private readonly counters = { sharedWrites: 0, sharedErrors: 0, remoteUpdates: 0, conflicts: 0, outages: 0 };

  constructor(opts: RedisStoreOptions) {
    super({ ttlMs: opts.ttlMs, now: opts.now });
    this.opts = opts;
    this.log = opts.log;
    this.prefix = opts.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.channel = `${this.prefix}assignments`;
  }

  /** Where the store lives, without a password, for logs. */
  get where(): string {
    try {
      const u = new URL(this.opts.url);
      return `redis://${u.host}${u.pathname === '/' ? '' : u.pathname}`;
    } catch {
      return 'redis (unparsable URL)';
    }
  }

  override set(key: string, nodeKey: string, replace = false): void {
    this.setLocal(key, nodeKey, this.ttlMs);
    if (!this.connected || !this.client) {
      this.unshared.add(key);
      return;
    }
    this.share(key, nodeKey, replace);
  }

  protected override refreshed(key: string, entry: { nodeKey: string }, now: number): void {
    if (!this.connected || !this.client) return;
    const last = this.sharedAt.get(key) ?? 0;
    if (now - last < this.ttlMs / 4) return;
    this.sharedAt.set(key, now);
    this.client.pexpire(this.prefix + key, this.ttlMs).then(
      (found) => {
        // Expired in Redis (or flushed) while still in use here: write it back.
        if (found === 0) this.share(key, entry.nodeKey, false);
      },
      (err: Error) => this.failed(err),
    );
  }

  override async start(): Promise<void> {
    await super.start();
    const common = {
      connectTimeout: this.opts.timeoutMs,
      commandTimeout: this.opts.timeoutMs,
      // A command while disconnected fails at once instead of queueing behind a dead connection.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      enableAutoPipelining: true,
      // Reconnect forever, backing off to 2 s.
      retryStrategy: (times: number) => (this.stopping ? null : Math.min(2000, 100 * times)),
      lazyConnect: true,
    };
    const client = new Redis(this.opts.url, common);
    const subscriber = new Redis(this.opts.url, { ...common, enableOfflineQueue: true, autoResubscribe: true });
    this.client = client;
    this.subscriber = subscriber;
    client.on('error', (err: Error) => this.failed(err));
    subscriber.on('error', (err: Error) => this.failed(err));
    client.on('close', () => {
      if (this.connected && !this.stopping) this.failed(new Error('connection closed'));
    });
    client.on('ready', () => this.onReady());
    subscriber.on('message', (_channel: string, message: string) => this.onMessage(message));
    // Start-up waits for Redis at most timeoutMs; without it the balancer starts on the ring alone.
    await Promise.allSettled([client.connect(), subscriber.connect().then(() => subscriber.subscribe(this.channel))]);
    if (!this.connected) this.failed(new Error(`not reachable within ${this.opts.timeoutMs} ms`));
  }

  override async stop(): Promise<void> {
    this.stopping = true;
    await super.stop();
    const quit = async (r: Redis | undefined): Promise<void> => {
      if (!r) return;
      try {
        await Promise.race([r.quit(), new Promise((resolve) => setTimeout(resolve, this.opts.timeoutMs).unref())]);
      } catch {
        // Closing a connection that is already gone.
      }
      r.disconnect();
    };
    await Promise.all([quit(this.client), quit(this.subscriber)]);
    this.connected = false;
  }

  override sweep(): void {
    super.sweep();
    for (const key of this.sharedAt.keys()) if (!this.entries.has(key)) this.sharedAt.delete(key);
  }

  override stats(): AffinityStoreStats {
    return { ...super.stats(), ...this.counters, connected: this.connected };
  }

  private share(key: string, nodeKey: string, replace: boolean): void {
    const client = this.client!;
    const redisKey = this.prefix + key;
    this.sharedAt.set(key, this.now());
    const write = replace ? client.set(redisKey, nodeKey, 'PX', this.ttlMs) : client.set(redisKey, nodeKey, 'PX', this.ttlMs, 'NX');
    write.then(
      (ok) => {
        if (ok === 'OK') {
          this.counters.sharedWrites++;
          client.publish(this.channel, JSON.stringify([this.instance, key, nodeKey])).catch((err: Error) => this.failed(err));
          return;
        }
        // Another instance assigned the key first: adopt its choice for the next messages.
        client.get(redisKey).then(
          (theirs) => {
            if (theirs !== null && theirs !== nodeKey) {
              this.counters.conflicts++;
              this.setLocal(key, theirs, this.ttlMs);
            }
          },
          (err: Error) => this.failed(err),
        );
      },
      (err: Error) => {
        this.unshared.add(key);
        this.failed(err);
      },
    );
  }

  private onMessage(message: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      return;
    }
    if (!Array.isArray(parsed) || parsed.length !== 3) return;
    const [instance, key, nodeKey] = parsed as unknown[];
    if (instance === this.instance || typeof key !== 'string' || typeof nodeKey !== 'string') return;
    this.counters.remoteUpdates++;
    this.setLocal(key, nodeKey, this.ttlMs);
    this.sharedAt.set(key, this.now());
  }

  private failed(err: Error): void {
    if (this.stopping) return;
    this.counters.sharedErrors++;
    // A command that failed (a timeout under load) on a connection that is still up is counted, not an outage:
    // only the connection's own events may mark the store down, or one slow reply would stop sharing for good.
    if (this.client?.status === 'ready' && !err.message.startsWith('not reachable')) return;
    // Logged once per outage (or once when Redis was not there at start), never once per message.
    if (this.connected || !this.reportedDown) {
      this.counters.outages++;
      this.log.warn(`affinity store ${this.where} unreachable (${err.message}): routing by the local map and the hash ring until it returns`);
    }
    this.connected = false;
    this.reportedDown = true;
  }

  private onReady(): void {
    this.connected = true;
    this.log.info(`affinity store ${this.where} ${this.reportedDown ? 'reachable again' : 'connected'}`);
    this.reportedDown = false;
    void this.sync();
  }

  /** Reads the shared assignments into the local map, then shares what was assigned while Redis was away. */
  private async sync(): Promise<void> {
    const client = this.client;
    if (!client) return;
    const max = this.opts.maxSyncKeys ?? 200_000;
    let cursor = '0';
    let read = 0;
    try {
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 1000);
        cursor = next;
        const names = keys.filter((k) => k !== this.channel);
        if (names.length > 0) {
          const values = await client.mget(...names);
          names.forEach((name, i) => {
            const value = values[i];
            const key = name.slice(this.prefix.length);
            // What this instance assigned while Redis was away is shared below, not overwritten.
            if (value !== null && value !== undefined && !this.unshared.has(key)) this.setLocal(key, value, this.ttlMs);
          });
          read += names.length;
        }
      } while (cursor !== '0' && read < max);
      const pending = [...this.unshared];
      this.unshared.clear();
      for (const key of pending) {
        const nodeKey = this.entries.get(key)?.nodeKey;
        if (nodeKey !== undefined) this.share(key, nodeKey, false);
      }
      this.log.info(`affinity store ${this.where}: ${read} shared assignments loaded, ${pending.length} local ones shared`);
    } catch (err) {
      this.failed(err as Error);
    }
  }
}
