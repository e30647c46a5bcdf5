// Bounded affinity state (issue 16, finding 1): only dialog-creating requests create Call-ID entries, the
// table is capped with least-recently-used eviction, and callIdAffinityMaxTimeInCache=0 means the cap alone.

import { afterEach, describe, expect, it } from 'vitest';
import { CallIdAffinityAlgorithm } from '../../src/algorithms/call-id-affinity.js';
import { AffinityTable } from '../../src/algorithms/affinity-table.js';
import type { BalancerAlgorithm } from '../../src/algorithms/algorithm.js';
import { algorithm, contextFor, nodes, request } from './algorithm-fixtures.js';

let clock = 1_000_000;
const algos: { stop(): void | Promise<void> }[] = [];
function callId(props: Record<string, string | number> = {}): CallIdAffinityAlgorithm {
  const a = new CallIdAffinityAlgorithm({ now: () => clock });
  a.init(contextFor({ algorithmClass: 'call-id-affinity', ...props }));
  algos.push(a);
  return a;
}
afterEach(async () => {
  for (const a of algos.splice(0)) await a.stop();
});

describe('call-id-affinity state', () => {
  it('creates no entry for out-of-dialog OPTIONS, MESSAGE or REGISTER, yet sends each Call-ID to one node', () => {
    const a = callId();
    a.nodesChanged(nodes(3));
    for (let i = 0; i < 1000; i++) {
      for (const method of ['OPTIONS', 'MESSAGE', 'REGISTER', 'PUBLISH']) {
        const req = request({ method, callId: `${method}-${i}` });
        const first = a.pickForSipRequest(req);
        // A retransmission or an authenticated retry (same Call-ID) reaches the same node.
        expect(a.pickForSipRequest(req)).toBe(first);
      }
    }
    expect(a.activeCalls()).toBe(0);
  });

  it('spreads entry-less requests over every node', () => {
    const a = callId();
    const ns = nodes(3);
    a.nodesChanged(ns);
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) seen.add(a.pickForSipRequest(request({ method: 'OPTIONS', callId: `o${i}` }))!.id);
    expect(seen.size).toBe(3);
  });

  it('keeps what follows an INVITE on the INVITE\'s node without creating more entries', () => {
    const a = callId();
    a.nodesChanged(nodes(3));
    for (let i = 0; i < 50; i++) {
      const id = `call-${i}`;
      const node = a.pickForSipRequest(request({ method: 'INVITE', callId: id }));
      for (const method of ['ACK', 'PRACK', 'UPDATE', 'INFO', 'CANCEL', 'BYE']) expect(a.pickForSipRequest(request({ method, callId: id }))).toBe(node);
    }
    expect(a.activeCalls()).toBe(50);
  });

  it('caps the table, evicting the least recently used entry, and counts evictions', () => {
    const a = callId({ callIdAffinityMaxEntries: 100 });
    a.nodesChanged(nodes(2));
    const keep = request({ callId: 'kept-busy' });
    const node = a.pickForSipRequest(keep);
    for (let i = 0; i < 1000; i++) {
      a.pickForSipRequest(request({ callId: `flood-${i}` }));
      // The busy call is used now and then, so it is never the least recently used.
      if (i % 50 === 0) expect(a.pickForSipRequest(request({ method: 'BYE', callId: 'kept-busy' }))).toBe(node);
    }
    expect(a.activeCalls()).toBe(100);
    expect(a.statistics()).toMatchObject({ AffinityEntries: 100, AffinityEvictedFull: 901 });
  });

  it('treats callIdAffinityMaxTimeInCache=0 as the cap alone, never unbounded', () => {
    const a = callId({ callIdAffinityMaxTimeInCache: 0, callIdAffinityMaxEntries: 500 });
    a.nodesChanged(nodes(2));
    for (let i = 0; i < 5000; i++) a.pickForSipRequest(request({ callId: `c${i}` }));
    clock += 10_000_000;
    a.evictIdle();
    expect(a.activeCalls()).toBe(500);
  });

  it('expires idle entries by age, keeping the recently used', () => {
    const a = callId({ callIdAffinityMaxTimeInCache: 10 });
    a.nodesChanged(nodes(2));
    for (let i = 0; i < 20; i++) a.pickForSipRequest(request({ callId: `old${i}` }));
    clock += 6000;
    a.pickForSipRequest(request({ method: 'BYE', callId: 'old3' }));
    for (let i = 0; i < 5; i++) a.pickForSipRequest(request({ callId: `new${i}` }));
    clock += 5000;
    a.evictIdle();
    expect(a.activeCalls()).toBe(6);
    expect(a.statistics()).toMatchObject({ AffinityExpired: 19 });
  });
});

describe('affinity table', () => {
  it('moves a node\'s entries and keeps per-node counts', () => {
    const t = new AffinityTable(10, 0);
    const [n1, n2] = nodes(2);
    for (let i = 0; i < 6; i++) t.set(`k${i}`, i % 2 ? n1! : n2!);
    expect(t.countOf(n1!)).toBe(3);
    expect(t.reassign(n1!, () => n2)).toBe(3);
    expect(t.countOf(n1!)).toBe(0);
    expect(t.countOf(n2!)).toBe(6);
    t.delete('k0');
    expect(t.countOf(n2!)).toBe(5);
    for (let i = 0; i < 20; i++) t.set(`x${i}`, n1!);
    expect(t.size).toBe(10);
    expect(t.countOf(n1!) + t.countOf(n2!)).toBe(10);
  });

  it('bounds the map-based algorithms too (user-based)', async () => {
    const a: BalancerAlgorithm = await algorithm('user-based', { callIdAffinityMaxEntries: 50 });
    algos.push(a);
    a.nodesChanged(nodes(2));
    for (let i = 0; i < 500; i++) a.pickForSipRequest(request({ fromUser: `u${i}`, toUser: `u${i}` }));
    expect(a.activeCalls!()).toBe(50);
    expect(a.statistics!()).toMatchObject({ AffinityEvictedFull: 450 });
  });
});
