// The pieces of workers=N without processes: the replica registry against the primary's, the rendezvous
// choice that every worker makes alike, and the summing of /lbstat documents.

import { describe, expect, it } from 'vitest';
import { NodeRegistry } from '../../src/registry/node-registry.js';
import { silentLogger } from '../../src/log.js';
import { ReplicaRegistry, applyOp, recordOf, type RegistryOp } from '../../src/workers/registry-sync.js';
import { candidatesOf, rendezvousPick } from '../../src/workers/same-choice.js';
import { sumDocuments } from '../../src/workers/aggregate.js';
import { resolvePortSharing, runtimeHasReusePort } from '../../src/workers/port-sharing.js';
import { ServerNode } from '../../src/registry/server-node.js';

const opts = { nodeTimeoutMs: 1000, heartbeatIntervalMs: 100 };

/** A primary and two replicas wired as the IPC wires them (synchronously here). */
function cluster(): { primary: NodeRegistry; replicas: ReplicaRegistry[]; sync(): void } {
  const primary = new NodeRegistry(opts, silentLogger());
  const acks = [0, 0];
  const replicas = [0, 1].map((i) => new ReplicaRegistry(opts, silentLogger(), (op: RegistryOp) => {
    const seq = applyOp(primary, op);
    if (seq !== undefined) acks[i] = seq;
  }));
  const sync = (): void => replicas.forEach((r, i) => r.applySnapshot({ nodes: primary.all().map(recordOf), ack: acks[i]! }));
  return { primary, replicas, sync };
}

describe('workers: one registry', () => {
  it('a heartbeat applied in one worker reaches the primary and, by its snapshot, the other worker', () => {
    const { primary, replicas, sync } = cluster();
    replicas[0]!.register({ ip: '10.0.0.1', ports: { udp: 5070 }, sessionId: 'a' });
    expect(primary.all().map((n) => n.id)).toEqual(['session:a']);
    expect(replicas[1]!.size).toBe(0);
    sync();
    expect(replicas[1]!.all().map((n) => n.id)).toEqual(['session:a']);
  });

  it('a bad mark from one worker is seen by every worker; a removal by the primary empties the replicas', () => {
    const { primary, replicas, sync } = cluster();
    primary.register({ ip: '10.0.0.1', ports: { udp: 5070 }, sessionId: 'a' });
    sync();
    const changes: string[] = [];
    replicas[1]!.on('state-changed', (n, prev) => changes.push(`${prev}->${n.state}`));
    replicas[0]!.setState(replicas[0]!.get('session:a')!, 'bad', 'no answers');
    expect(primary.get('session:a')!.state).toBe('bad');
    sync();
    expect(changes).toEqual(['active->bad']);
    primary.remove(primary.get('session:a')!, 'expired');
    sync();
    expect(replicas.map((r) => r.size)).toEqual([0, 0]);
  });

  it('a snapshot older than a change still in flight is skipped, not undone', () => {
    const primary = new NodeRegistry(opts, silentLogger());
    const inFlight: RegistryOp[] = [];
    const replica = new ReplicaRegistry(opts, silentLogger(), (op) => inFlight.push(op));
    replica.register({ ip: '10.0.0.1', ports: { udp: 5070 }, sessionId: 'a' });
    expect(replica.applySnapshot({ nodes: primary.all().map(recordOf), ack: 0 })).toBe(false);
    expect(replica.size).toBe(1);
    const seq = applyOp(primary, inFlight[0]!)!;
    expect(replica.applySnapshot({ nodes: primary.all().map(recordOf), ack: seq })).toBe(true);
    expect(replica.size).toBe(1);
  });
});

describe('workers: one decision per Call-ID', () => {
  const nodes = (ids: string[]): ServerNode[] => ids.map((id, i) => new ServerNode({ ip: `10.0.0.${i + 1}`, ports: { udp: 5070 }, sessionId: id }, 0));

  it('the same Call-ID gives the same node whatever the order the node list was built in', () => {
    const a = candidatesOf(nodes(['a', 'b', 'c']), false);
    const b = candidatesOf(nodes(['c', 'a', 'b']), false);
    for (let i = 0; i < 200; i++) expect(rendezvousPick(`call-${i}`, a)!.id).toBe(rendezvousPick(`call-${i}`, b)!.id);
  });

  it('spreads calls evenly and, when a node leaves, moves only its calls', () => {
    const three = candidatesOf(nodes(['a', 'b', 'c']), false);
    const two = three.filter((c) => c.node.id !== 'session:c');
    const count = new Map<string, number>();
    let moved = 0;
    for (let i = 0; i < 3000; i++) {
      const before = rendezvousPick(`call-${i}`, three)!.id;
      count.set(before, (count.get(before) ?? 0) + 1);
      const after = rendezvousPick(`call-${i}`, two)!.id;
      if (before !== 'session:c' && after !== before) moved++;
    }
    for (const n of count.values()) expect(n).toBeGreaterThan(800);
    expect(moved).toBe(0);
  });

  it('honours weights (weight 0: no new calls)', () => {
    const list = nodes(['a', 'b']);
    list[0]!.properties = { weight: '3' };
    list[1]!.properties = { weight: '1' };
    const weighted = candidatesOf(list, true);
    let a = 0;
    for (let i = 0; i < 4000; i++) if (rendezvousPick(`call-${i}`, weighted)!.id === 'session:a') a++;
    expect(a / 4000).toBeGreaterThan(0.7);
    expect(a / 4000).toBeLessThan(0.8);
    list[1]!.properties = { weight: '0' };
    const onlyA = candidatesOf(list, true);
    for (let i = 0; i < 100; i++) expect(rendezvousPick(`call-${i}`, onlyA)!.id).toBe('session:a');
  });
});

describe('workers: the daemon\'s figures', () => {
  it('sums numbers field by field, nested maps too, and keeps the first of anything else', () => {
    expect(sumDocuments([
      { Metrics: { releaseVersion: '1', NumberOfRequestsProcessed: 3, SipRequests: { INVITE: 1 } } },
      { Metrics: { releaseVersion: '1', NumberOfRequestsProcessed: 4, SipRequests: { INVITE: 2, BYE: 1 } } },
    ])).toEqual({ Metrics: { releaseVersion: '1', NumberOfRequestsProcessed: 7, SipRequests: { INVITE: 3, BYE: 1 } } });
  });
});

describe('workers: sharing the listening ports', () => {
  it('SO_REUSEPORT where the runtime has it: Node 22.12+, 23.1+, on Linux', () => {
    expect(runtimeHasReusePort('20.20.2', 'linux')).toBe(false);
    expect(runtimeHasReusePort('22.11.0', 'linux')).toBe(false);
    expect(runtimeHasReusePort('22.12.0', 'linux')).toBe(true);
    expect(runtimeHasReusePort('23.0.0', 'linux')).toBe(false);
    expect(runtimeHasReusePort('23.1.0', 'linux')).toBe(true);
    expect(runtimeHasReusePort('26.12.1', 'linux')).toBe(true);
    expect(runtimeHasReusePort('26.12.1', 'darwin')).toBe(false);
  });

  it("auto and cluster share the cluster's sockets; reuseport without the runtime falls back, saying why", () => {
    expect(resolvePortSharing('auto', true)).toEqual({ sharing: 'cluster' });
    expect(resolvePortSharing('cluster', true)).toEqual({ sharing: 'cluster' });
    expect(resolvePortSharing('reuseport', true)).toEqual({ sharing: 'reuseport' });
    const fallback = resolvePortSharing('reuseport', false);
    expect(fallback.sharing).toBe('cluster');
    expect(fallback.note).toMatch(/needs Node 22\.12 or later/);
  });
});
