// The Redis affinity store against a real redis-server started (and killed) by this test.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Logger } from '../../src/log.js';
import { RedisAffinityStore } from '../../src/algorithms/affinity-store-redis.js';
import { PersistentConsistentHashAlgorithm } from '../../src/algorithms/persistent-consistent-hash.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { contextFor, node, nodes, request } from './algorithm-fixtures.js';
import { waitUntil } from '../helpers/wait.js';

interface Line {
  level: number;
  msg: string;
}

function capturingLogger(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const log: Logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as Line) }) as unknown as Logger;
  return { log, lines };
}

const servers: RedisServer[] = [];
const stores: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.stop();
});
afterAll(async () => {
  for (const s of servers.splice(0)) await s.stop();
});

function store(url: string, log = capturingLogger().log, timeoutMs = 300): RedisAffinityStore {
  const s = new RedisAffinityStore({ url, ttlMs: 60_000, timeoutMs, log, keyPrefix: `test:${process.pid}:` });
  stores.push(s);
  return s;
}

describe('Redis affinity store', () => {
  it('shares assignments between two instances, including those made before the second one started', async () => {
    const redis = await startRedis();
    servers.push(redis);
    const a = store(redis.url);
    await a.start();
    a.set('early', '10.0.0.1:5060');
    await waitUntil(() => a.stats().sharedWrites === 1);
    const b = store(redis.url);
    await b.start();
    await waitUntil(() => b.get('early') === '10.0.0.1:5060');
    a.set('call-1', '10.0.0.2:5060');
    await waitUntil(() => b.get('call-1') === '10.0.0.2:5060');
    // The first assignment wins: B adopts A's choice for a key both assign at once.
    a.set('race', '10.0.0.1:5060');
    b.set('race', '10.0.0.3:5060');
    await waitUntil(() => a.get('race') === b.get('race'));
    expect(a.stats().connected).toBe(true);
  });

  it('two balancers with persistent-consistent-hash send a dialog to one node, also after a node was added between INVITE and BYE', async () => {
    const redis = await startRedis();
    servers.push(redis);
    const ctx = contextFor({ affinityStore: redis.url, affinityStoreKeyPrefix: `pch:${process.pid}:` });
    const a = new PersistentConsistentHashAlgorithm();
    const b = new PersistentConsistentHashAlgorithm();
    stores.push(a, b);
    await a.init(ctx);
    await b.init(ctx);
    const three = ['10.0.0.1', '10.0.0.2', '10.0.0.3'];
    a.nodesChanged(three.map((ip) => node(ip)));
    b.nodesChanged(three.map((ip) => node(ip)));
    const invites = Array.from({ length: 400 }, () => request());
    const chosen = invites.map((r) => a.pickForSipRequest(r)!.ip);
    await waitUntil(() => b.storeStats().remoteUpdates >= 400);
    const four = [...three, '10.0.0.4'];
    a.nodesChanged(four.map((ip) => node(ip)));
    b.nodesChanged(four.map((ip) => node(ip)));
    invites.forEach((r, i) => expect(b.pickForSipRequest({ ...r, method: 'BYE' })!.ip).toBe(chosen[i]));
  });

  it('keeps routing when Redis dies, logs it once, and shares again when Redis returns', async () => {
    const redis = await startRedis();
    const { log, lines } = capturingLogger();
    const a = store(redis.url, log, 200);
    const b = store(redis.url);
    await a.start();
    await b.start();
    await redis.stop('SIGKILL');
    await waitUntil(() => !a.stats().connected);
    const errorsBefore = a.stats().sharedErrors;
    const started = Date.now();
    for (let i = 0; i < 500; i++) a.set(`offline-${i}`, '10.0.0.1:5060');
    for (let i = 0; i < 500; i++) expect(a.get(`offline-${i}`)).toBe('10.0.0.1:5060');
    // Never waits on Redis.
    expect(Date.now() - started).toBeLessThan(200);
    // Both connections keep retrying (from 100 ms on), each failed attempt through the path that logs: after
    // three rounds of them, still only one line says the store is down.
    await waitUntil(() => a.stats().sharedErrors >= errorsBefore + 6, 'three failed reconnect rounds');
    const down = lines.filter((l) => l.msg.includes('unreachable'));
    expect(down).toHaveLength(1);
    expect(down[0]!.level).toBe(40);
    expect(a.stats().outages).toBe(1);
    // Redis comes back on the same port: A reconnects and shares what it assigned meanwhile.
    const again = await startRedis(redis.port);
    servers.push(again);
    await waitUntil(() => lines.some((l) => l.msg.includes('reachable again')), 'the "reachable again" log line', 8000);
    await waitUntil(() => b.get('offline-499') === '10.0.0.1:5060', 'the offline write at the peer', 8000);
    expect(a.stats().connected).toBe(true);
  });

  it('starts without Redis, routing on the ring alone', async () => {
    const { log, lines } = capturingLogger();
    const ctx = { ...contextFor({ affinityStore: 'redis://127.0.0.1:1', affinityStoreTimeout: 200 }), log };
    const algo = new PersistentConsistentHashAlgorithm();
    stores.push(algo);
    const started = Date.now();
    await algo.init(ctx);
    expect(Date.now() - started).toBeLessThan(2000);
    algo.nodesChanged(nodes(2));
    const req = request();
    const first = algo.pickForSipRequest(req);
    expect(first).toBeDefined();
    expect(algo.pickForSipRequest(req)).toBe(first);
    expect(lines.filter((l) => l.msg.includes('unreachable'))).toHaveLength(1);
  });
});
