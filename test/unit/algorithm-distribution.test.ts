// Distribution and stability of every algorithm that places new calls, through the algorithm interface.
import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { algorithm, node, nodes, request, shares } from './algorithm-fixtures.js';
import type { BalancerAlgorithm } from '../../src/algorithms/algorithm.js';

const SPREADING = ['round-robin', 'call-id-affinity', 'header-consistent-hash', 'persistent-consistent-hash', 'cluster-subdomain-affinity', 'weighted', 'least-calls'];

async function stopAll(...algos: BalancerAlgorithm[]): Promise<void> {
  for (const a of algos) await a.stop();
}

describe('distribution of 30,000 random Call-IDs over 3 nodes', () => {
  for (const name of SPREADING) {
    it(`${name}: 33.3% ± 2% on each node`, async () => {
      const algo = await algorithm(name, { subclusterMap: '(10.0.0.1,10.0.0.2)(10.0.0.3)' });
      algo.nodesChanged(nodes(3));
      const picks = Array.from({ length: 30_000 }, () => algo.pickForSipRequest(request()));
      const s = shares(picks);
      expect(s.size).toBe(3);
      expect(s.has('none')).toBe(false);
      for (const pct of s.values()) expect(Math.abs(pct - 100 / 3)).toBeLessThan(2);
      await stopAll(algo);
    });
  }

  it('user-based: 30,000 random To users at 33.3% ± 2% on each node', async () => {
    const algo = await algorithm('user-based');
    algo.nodesChanged(nodes(3));
    const s = shares(Array.from({ length: 30_000 }, () => algo.pickForSipRequest(request({ toUser: randomUUID() }))));
    expect(s.size).toBe(3);
    for (const pct of s.values()) expect(Math.abs(pct - 100 / 3)).toBeLessThan(2);
    await stopAll(algo);
  });

  it('weighted: weights 1, 2 and 3 give 16.7%, 33.3% and 50% ± 2%', async () => {
    const algo = await algorithm('weighted');
    const weighted = [1, 2, 3].map((w, i) => node(`10.0.1.${i + 1}`, 5060, { properties: { weight: String(w) } }));
    algo.nodesChanged(weighted);
    const s = shares(Array.from({ length: 30_000 }, () => algo.pickForSipRequest(request())));
    [1, 2, 3].forEach((w, i) => expect(Math.abs(s.get(weighted[i]!.id)! - (w / 6) * 100)).toBeLessThan(2));
    await stopAll(algo);
  });

  it('weighted: a node with weight 0 gets no new calls', async () => {
    const algo = await algorithm('weighted');
    const ns = [node('10.0.2.1', 5060, { properties: { weight: '0' } }), node('10.0.2.2')];
    algo.nodesChanged(ns);
    for (let i = 0; i < 100; i++) expect(algo.pickForSipRequest(request())).toBe(ns[1]);
    await stopAll(algo);
  });
});

describe('distributable algorithms agree between instances', () => {
  for (const name of ['header-consistent-hash', 'persistent-consistent-hash']) {
    it(`${name}: two instances fed the same nodes choose the same node for 10,000 keys`, async () => {
      const a = await algorithm(name);
      const b = await algorithm(name);
      // Each instance has its own ServerNode objects and session ids, as two balancers would.
      const na = nodes(4);
      const nb = nodes(4).reverse();
      a.nodesChanged(na);
      b.nodesChanged(nb);
      for (let i = 0; i < 10_000; i++) {
        const req = request();
        expect(b.pickForSipRequest(req)!.ip).toBe(a.pickForSipRequest(req)!.ip);
      }
      await stopAll(a, b);
    });
  }

  it('header-consistent-hash: removing one of four nodes moves only its calls, over the three others within ± 5%', async () => {
    const algo = await algorithm('header-consistent-hash');
    const four = nodes(4);
    algo.nodesChanged(four);
    const reqs = Array.from({ length: 20_000 }, () => request());
    const before = reqs.map((r) => algo.pickForSipRequest(r)!);
    algo.nodesChanged(four.filter((n) => n !== four[2]));
    const moved: (typeof four)[number][] = [];
    reqs.forEach((r, i) => {
      const now = algo.pickForSipRequest(r)!;
      if (before[i] !== four[2]) expect(now).toBe(before[i]);
      else moved.push(now);
    });
    const s = shares(moved);
    expect(s.size).toBe(3);
    for (const pct of s.values()) expect(Math.abs(pct - 100 / 3)).toBeLessThan(5);
    await stopAll(algo);
  });
});

describe('affinity', () => {
  for (const name of ['call-id-affinity', 'header-consistent-hash', 'persistent-consistent-hash', 'cluster-subdomain-affinity', 'weighted', 'least-calls', 'user-based']) {
    it(`${name}: every request of a call goes to one node`, async () => {
      const algo = await algorithm(name);
      algo.nodesChanged(nodes(3));
      for (let c = 0; c < 50; c++) {
        const callId = randomUUID();
        const first = algo.pickForSipRequest(request({ callId, toUser: `u${c}` }));
        for (const method of ['ACK', 'INFO', 'BYE']) expect(algo.pickForSipRequest(request({ callId, method, toUser: `u${c}` }))).toBe(first);
      }
      await stopAll(algo);
    });

    it(`${name}: calls of a dead node go to live nodes, others stay`, async () => {
      const algo = await algorithm(name);
      const three = nodes(3);
      algo.nodesChanged(three);
      const reqs = Array.from({ length: 300 }, (_, i) => request({ toUser: `user${i}` }));
      const before = reqs.map((r) => algo.pickForSipRequest(r)!);
      algo.nodesChanged([three[0]!, three[2]!]);
      reqs.forEach((r, i) => {
        const now = algo.pickForSipRequest(r);
        if (before[i] === three[1]) expect([three[0], three[2]]).toContain(now);
        else expect(now).toBe(before[i]);
      });
      await stopAll(algo);
    });
  }

  it('an in-dialog request keeps its assigned node while it lives, graceful included, and fails over when it is bad', async () => {
    for (const name of ['header-consistent-hash', 'persistent-consistent-hash', 'user-based', 'weighted', 'least-calls', 'cluster-subdomain-affinity', 'active-standby']) {
      const algo = await algorithm(name);
      const three = nodes(3);
      algo.nodesChanged(three);
      const req = request();
      const assigned = three[1]!;
      expect(algo.pickForAssignedSipRequest!(req, assigned, '0'), name).toBe(assigned);
      assigned.state = 'graceful';
      algo.nodesChanged(three);
      expect(algo.pickForAssignedSipRequest!(req, assigned, '0'), name).toBe(assigned);
      assigned.state = 'bad';
      algo.nodesChanged(three);
      const other = algo.pickForAssignedSipRequest!(req, assigned, '0');
      expect(other, name).toBeDefined();
      expect(other, name).not.toBe(assigned);
      await stopAll(algo);
    }
  });

  it('no node when no node is active', async () => {
    for (const name of SPREADING.concat(['user-based', 'active-standby'])) {
      const algo = await algorithm(name);
      algo.nodesChanged([]);
      expect(algo.pickForSipRequest(request()), name).toBeUndefined();
      algo.nodesChanged(nodes(2, { }).map((n) => Object.assign(n, { state: 'graceful' as const })));
      expect(algo.pickForSipRequest(request()), name).toBeUndefined();
      await stopAll(algo);
    }
  });
});

describe('least-calls', () => {
  it('sends new calls to the node with the fewest calls', async () => {
    const algo = await algorithm('least-calls');
    const two = nodes(2);
    algo.nodesChanged([two[0]!]);
    for (let i = 0; i < 10; i++) algo.pickForSipRequest(request());
    // A second node with no calls gets the next ten.
    algo.nodesChanged(two);
    for (let i = 0; i < 10; i++) expect(algo.pickForSipRequest(request())).toBe(two[1]);
    expect(algo.activeCalls!()).toBe(20);
    await stopAll(algo);
  });
});
