import { describe, expect, it, vi } from 'vitest';
import { MemoryAffinityStore } from '../../src/algorithms/affinity-store.js';
import { PersistentConsistentHashAlgorithm } from '../../src/algorithms/persistent-consistent-hash.js';
import { HeaderConsistentHashAlgorithm } from '../../src/algorithms/header-consistent-hash.js';
import { contextFor, node, nodes, request } from './algorithm-fixtures.js';

describe('memory affinity store', () => {
  it('forgets an entry unused for the TTL, and a read refreshes it', () => {
    let now = 0;
    const store = new MemoryAffinityStore({ ttlMs: 1000, now: () => now });
    store.set('a', 'n1');
    store.set('b', 'n2');
    now = 900;
    expect(store.get('a')).toBe('n1');
    now = 1500;
    expect(store.get('a')).toBe('n1');
    expect(store.get('b')).toBeUndefined();
    store.sweep();
    expect(store.stats().entries).toBe(1);
  });
});

describe('persistent-consistent-hash', () => {
  it('keeps every call on its node when a node is added, where the plain hash moves a quarter of them', async () => {
    const persistent = new PersistentConsistentHashAlgorithm();
    const plain = new HeaderConsistentHashAlgorithm();
    await persistent.init(contextFor());
    plain.init(contextFor());
    const three = nodes(3);
    persistent.nodesChanged(three);
    plain.nodesChanged(three);
    const reqs = Array.from({ length: 4000 }, () => request());
    const before = reqs.map((r) => persistent.pickForSipRequest(r));
    const four = [...three, node('10.0.0.99')];
    persistent.nodesChanged(four);
    plain.nodesChanged(four);
    reqs.forEach((r, i) => expect(persistent.pickForSipRequest(r)).toBe(before[i]));
    const movedByPlain = reqs.filter((r, i) => plain.pickForSipRequest(r) !== before[i]).length;
    expect(movedByPlain / reqs.length).toBeGreaterThan(0.15);
    // New calls do use the new node.
    const fresh = Array.from({ length: 400 }, () => persistent.pickForSipRequest(request()));
    expect(fresh.filter((n) => n === four[3]).length).toBeGreaterThan(50);
    expect(persistent.activeCalls()).toBe(4400);
    await persistent.stop();
  });

  it('moves the calls of a dead or bad node and remembers the new node', async () => {
    const algo = new PersistentConsistentHashAlgorithm();
    await algo.init(contextFor());
    const three = nodes(3);
    algo.nodesChanged(three);
    const reqs = Array.from({ length: 300 }, () => request());
    const before = reqs.map((r) => algo.pickForSipRequest(r)!);
    three[0]!.state = 'bad';
    algo.nodesChanged(three);
    const after = reqs.map((r) => algo.pickForSipRequest(r)!);
    after.forEach((n, i) => (before[i] === three[0] ? expect(n).not.toBe(three[0]) : expect(n).toBe(before[i])));
    // Back to active: the moved calls stay where they went.
    three[0]!.state = 'active';
    algo.nodesChanged(three);
    reqs.forEach((r, i) => expect(algo.pickForSipRequest(r)).toBe(after[i]));
    await algo.stop();
  });

  it('remembers the node of a request that carried a node hint', async () => {
    const algo = new PersistentConsistentHashAlgorithm();
    await algo.init(contextFor());
    const three = nodes(3);
    algo.nodesChanged(three);
    const req = request();
    const other = three.find((n) => n !== algo.nodeForKey(req.callId))!;
    algo.assignToNode(req, other);
    expect(algo.pickForSipRequest(req)).toBe(other);
    await algo.stop();
  });

  it('uses the httpAffinityKey parameter for HTTP', async () => {
    const algo = new PersistentConsistentHashAlgorithm();
    await algo.init(contextFor({ httpAffinityKey: 'sess' }));
    algo.nodesChanged(nodes(3));
    const first = algo.pickForHttpRequest({ url: '/a?sess=42' } as never);
    expect(first).toBeDefined();
    for (let i = 0; i < 10; i++) expect(algo.pickForHttpRequest({ url: `/b${i}?x=1&sess=42` } as never)).toBe(first);
    expect(algo.pickForHttpRequest({ url: '/' } as never)).toBeUndefined();
    await algo.stop();
  });

  it('refuses an affinityStore that is neither memory nor redis://', () => {
    // Read once, when the configuration is loaded: the algorithm never sees a bad store.
    expect(() => contextFor({ algorithmClass: 'persistent-consistent-hash', affinityStore: 'mysql://x' })).toThrow(/affinityStore=mysql:\/\/x: expected memory or redis:\/\/host:port/);
    vi.restoreAllMocks();
  });
});
