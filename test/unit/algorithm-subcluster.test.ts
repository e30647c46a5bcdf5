import { describe, expect, it } from 'vitest';
import { parseSubclusterMap } from '../../src/algorithms/cluster-subdomain-affinity.js';
import { algorithm, node, request } from './algorithm-fixtures.js';

describe('parseSubclusterMap', () => {
  it("parses the manual's example (spaces free)", () => {
    expect(parseSubclusterMap('( 192.168.1.1, 192.168.1.2 ) ( 10.10.10.10,20.20.20.20, 30.30.30.30)')).toEqual([
      ['192.168.1.1', '192.168.1.2'],
      ['10.10.10.10', '20.20.20.20', '30.30.30.30'],
    ]);
    expect(parseSubclusterMap('(a:5070,b)')).toEqual([['a:5070', 'b']]);
    expect(parseSubclusterMap('   ')).toEqual([]);
  });

  it('rejects a host in two groups, naming the host and both groups', () => {
    expect(() => parseSubclusterMap('(1.1.1.1,2.2.2.2)(3.3.3.3, 1.1.1.1)')).toThrow(/host 1\.1\.1\.1 is in group 1 and in group 2/);
    expect(() => parseSubclusterMap('(1.1.1.1,1.1.1.1)')).toThrow(/listed twice in group 1/);
  });

  it('rejects malformed values with a clear message', () => {
    expect(() => parseSubclusterMap('1.1.1.1,2.2.2.2')).toThrow(/expected "\("/);
    expect(() => parseSubclusterMap('(1.1.1.1,2.2.2.2')).toThrow(/not closed/);
    expect(() => parseSubclusterMap('(1.1.1.1,,2.2.2.2)')).toThrow(/empty host/);
    expect(() => parseSubclusterMap('(1.1.1.1 2.2.2.2)')).toThrow(/missing comma/);
  });
});

describe('cluster-subdomain-affinity', () => {
  it('moves the calls of a dead node to a live node of its group, others stay', async () => {
    const algo = await algorithm('cluster-subdomain-affinity', { subclusterMap: '(10.0.0.1, 10.0.0.2)(10.0.0.3,10.0.0.4)' });
    const [a1, a2, b1, b2] = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'].map((ip) => node(ip));
    const all = [a1!, a2!, b1!, b2!];
    algo.nodesChanged(all);
    const reqs = Array.from({ length: 400 }, () => request());
    const before = reqs.map((r) => algo.pickForSipRequest(r)!);
    expect(before.filter((n) => n === b1).length).toBeGreaterThan(50);
    algo.nodesChanged([a1!, a2!, b2!]);
    reqs.forEach((r, i) => {
      const now = algo.pickForSipRequest(r);
      expect(now).toBe(before[i] === b1 ? b2 : before[i]);
    });
    await algo.stop();
  });

  it('fails over like the default when the group has no live member, or the node is in no group', async () => {
    const algo = await algorithm('cluster-subdomain-affinity', { subclusterMap: '(10.0.0.1)(10.0.0.2)' });
    const ns = ['10.0.0.1', '10.0.0.2', '10.0.0.9'].map((ip) => node(ip));
    algo.nodesChanged(ns);
    const reqs = Array.from({ length: 60 }, () => request());
    const before = reqs.map((r) => algo.pickForSipRequest(r)!);
    algo.nodesChanged([ns[1]!, ns[2]!]);
    reqs.forEach((r, i) => {
      const now = algo.pickForSipRequest(r)!;
      if (before[i] === ns[0]) expect([ns[1], ns[2]]).toContain(now);
      else expect(now).toBe(before[i]);
    });
    await algo.stop();
  });

  it('matches group members by ip:port too', async () => {
    const algo = await algorithm('cluster-subdomain-affinity', { subclusterMap: '(127.0.0.1:5070,127.0.0.1:5071)(127.0.0.1:5080)' });
    const [a, b, c] = [5070, 5071, 5080].map((p) => node('127.0.0.1', p));
    algo.nodesChanged([a!, b!, c!]);
    const reqs = Array.from({ length: 90 }, () => request());
    const before = reqs.map((r) => algo.pickForSipRequest(r)!);
    algo.nodesChanged([b!, c!]);
    reqs.forEach((r, i) => expect(algo.pickForSipRequest(r)).toBe(before[i] === a ? b : before[i]));
    await algo.stop();
  });
});
