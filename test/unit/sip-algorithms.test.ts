// The two algorithms the SIP forwarder needs from the start: call-id-affinity (the default) and round-robin.

import { afterEach, describe, expect, it } from 'vitest';
import { CallIdAffinityAlgorithm } from '../../src/algorithms/call-id-affinity.js';
import { RoundRobinAlgorithm } from '../../src/algorithms/round-robin.js';
import { contextFor, nodes, request } from './algorithm-fixtures.js';

let clock = 1_000_000;
const algos: { stop(): void }[] = [];
function callId(props: Record<string, string | number> = {}): CallIdAffinityAlgorithm {
  const a = new CallIdAffinityAlgorithm({ now: () => clock });
  a.init(contextFor({ algorithmClass: 'call-id-affinity', ...props }));
  algos.push(a);
  return a;
}
afterEach(() => {
  for (const a of algos.splice(0)) a.stop();
});

describe('call-id-affinity', () => {
  it('spreads new Call-IDs round robin over active nodes', () => {
    const a = callId();
    const [n1, n2, n3] = nodes(3);
    a.nodesChanged([n1!, n2!, n3!]);
    const picked = Array.from({ length: 6 }, () => a.pickForSipRequest(request())!.ip);
    expect(new Set(picked.slice(0, 3)).size).toBe(3);
    expect(picked.slice(3)).toEqual(picked.slice(0, 3));
  });

  it('keeps every request of one Call-ID on one node', () => {
    const a = callId();
    a.nodesChanged(nodes(3));
    const req = request({ callId: 'sticky' });
    const first = a.pickForSipRequest(req);
    for (let i = 0; i < 10; i++) a.pickForSipRequest(request());
    expect(a.pickForSipRequest(req)).toBe(first);
    expect(a.activeCalls()).toBe(11);
  });

  it('gives graceful nodes no new calls, but their calls stay', () => {
    const a = callId();
    const [n1, n2] = nodes(2);
    a.nodesChanged([n1!, n2!]);
    const reqs = Array.from({ length: 4 }, (_, i) => request({ callId: `c${i}` }));
    const before = reqs.map((r) => a.pickForSipRequest(r));
    n1!.state = 'graceful';
    a.nodesChanged([n1!, n2!]);
    for (let i = 0; i < 5; i++) expect(a.pickForSipRequest(request())).toBe(n2);
    expect(reqs.map((r) => a.pickForSipRequest(r))).toEqual(before);
    expect(a.pickForAssignedSipRequest(reqs[0]!, n1, '0')).toBe(n1);
  });

  it('moves a dead node\'s calls to live nodes, spread over them', () => {
    const a = callId();
    const [n1, n2, n3] = nodes(3);
    a.nodesChanged([n1!, n2!, n3!]);
    const reqs = Array.from({ length: 30 }, (_, i) => request({ callId: `d${i}` }));
    for (const r of reqs) a.pickForSipRequest(r);
    a.nodesChanged([n2!, n3!]);
    const after = reqs.map((r) => a.pickForSipRequest(r)!);
    expect(after.every((n) => n === n2 || n === n3)).toBe(true);
    expect(new Set(after).size).toBe(2);
  });

  it('moves all of a dead node\'s calls to one node with callIdAffinityGroupFailover=true', () => {
    const a = callId({ callIdAffinityGroupFailover: 'true' });
    const [n1, n2, n3] = nodes(3);
    a.nodesChanged([n1!, n2!, n3!]);
    const reqs = Array.from({ length: 30 }, (_, i) => request({ callId: `g${i}` }));
    const owners = reqs.map((r) => a.pickForSipRequest(r));
    a.nodesChanged([n2!, n3!]);
    const moved = reqs.filter((_, i) => owners[i] === n1).map((r) => a.pickForSipRequest(r));
    expect(moved.length).toBe(10);
    expect(new Set(moved).size).toBe(1);
  });

  it('fails an in-dialog request over when its hinted node is dead, and keeps it while it lives', () => {
    const a = callId();
    const [n1, n2] = nodes(2);
    a.nodesChanged([n1!, n2!]);
    const req = request({ callId: 'dialog', method: 'BYE' });
    expect(a.pickForAssignedSipRequest(req, n1, '0')).toBe(n1);
    a.nodesChanged([n2!]);
    expect(a.pickForAssignedSipRequest(req, n1, '0')).toBe(n2);
    expect(a.pickForAssignedSipRequest(req, undefined, '0')).toBe(n2);
  });

  it('evicts entries idle for callIdAffinityMaxTimeInCache seconds', () => {
    const a = callId({ callIdAffinityMaxTimeInCache: 10 });
    a.nodesChanged(nodes(2));
    a.pickForSipRequest(request({ callId: 'old' }));
    clock += 6_000;
    a.pickForSipRequest(request({ callId: 'young' }));
    clock += 5_000;
    a.evictIdle();
    expect(a.activeCalls()).toBe(1);
    clock += 6_000;
    a.evictIdle();
    expect(a.activeCalls()).toBe(0);
  });

  it('has no node to give when none is active', () => {
    const a = callId();
    expect(a.pickForSipRequest(request())).toBeUndefined();
    const [n1] = nodes(1);
    n1!.state = 'bad';
    a.nodesChanged([n1!]);
    expect(a.pickForSipRequest(request())).toBeUndefined();
  });
});

describe('round-robin', () => {
  it('cycles over active nodes, skipping graceful and bad ones', () => {
    const a = new RoundRobinAlgorithm();
    a.init(contextFor({ algorithmClass: 'round-robin' }));
    const [n1, n2, n3] = nodes(3);
    n3!.state = 'graceful';
    a.nodesChanged([n1!, n2!, n3!]);
    const picks = Array.from({ length: 4 }, () => a.pickForSipRequest(request()));
    expect(picks).toEqual([n1, n2, n1, n2]);
  });

  it('keeps a dialog on its live node (graceful included) and moves it when the node is gone', () => {
    const a = new RoundRobinAlgorithm();
    a.init(contextFor({ algorithmClass: 'round-robin' }));
    const [n1, n2] = nodes(2);
    n1!.state = 'graceful';
    a.nodesChanged([n1!, n2!]);
    expect(a.pickForAssignedSipRequest(request(), n1)).toBe(n1);
    a.nodesChanged([n2!]);
    expect(a.pickForAssignedSipRequest(request(), n1)).toBe(n2);
  });
});

describe('slow start for the default algorithms', () => {
  it('gives a node that just joined a growing share of new calls (trafficRampupCyclePeriod, trafficPercentageIncrease)', () => {
    const a = callId({ trafficRampupCyclePeriod: 1000, trafficPercentageIncrease: 25 });
    const [n1, n2] = nodes(2);
    a.nodesChanged([n1!]);
    clock += 60_000;
    a.nodesChanged([n1!, n2!]);
    const share = (): number => {
      let onNew = 0;
      for (let i = 0; i < 1000; i++) if (a.pickForSipRequest(request()) === n2) onNew++;
      return onNew / 1000;
    };
    // One step of 25% of its weight against the old node's full weight: 0.25 / 1.25 = 20% of new calls.
    expect(share()).toBeCloseTo(0.2, 1);
    clock += 3000;
    a.nodesChanged([n1!, n2!]);
    expect(share()).toBeCloseTo(0.5, 1);
  });
});

