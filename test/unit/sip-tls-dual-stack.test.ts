// IPv6 beside IPv4 (src/sip/transport/dual-stack.ts): pairing the listening points of both families, sending
// from the destination's family, and an IPv6 client's new call going to an IPv6 node first.

import { describe, expect, it } from 'vitest';
import { NodeRegistry } from '../../src/registry/node-registry.js';
import { silentLogger } from '../../src/log.js';
import type { BalancerAlgorithm, AlgorithmSipRequest } from '../../src/algorithms/algorithm.js';
import type { ServerNode } from '../../src/registry/server-node.js';
import type { ListeningPoint } from '../../src/sip/transport/transport.js';
import { DualStackListeningPoint, familyOf, pairByFamily, preferClientFamily } from '../../src/sip/transport/dual-stack.js';

function point(side: 'external' | 'internal', transport: 'udp' | 'tcp', host: string, port: number, sent: string[] = []): ListeningPoint {
  return {
    side,
    transport,
    host,
    port,
    start: async () => undefined,
    stop: async () => undefined,
    sendTo: (_d, h, p) => void sent.push(`${host}->${h}:${p}`),
  };
}

const req = (callId: string): AlgorithmSipRequest => ({ method: 'INVITE', callId }) as unknown as AlgorithmSipRequest;

describe('dual stack', () => {
  it('tells the families apart, brackets or not', () => {
    expect([familyOf('::1'), familyOf('[::1]'), familyOf('127.0.0.1'), familyOf('node.example.com')]).toEqual([6, 6, 4, 4]);
  });

  it('pairs each IPv4 point with the IPv6 point of the same side and transport, and sends by family', () => {
    const sent: string[] = [];
    const v4 = [point('external', 'udp', '127.0.0.1', 5060, sent), point('internal', 'udp', '127.0.0.1', 5065, sent)];
    const v6 = [point('external', 'udp', '::1', 5060, sent), point('external', 'tcp', '::1', 5060, sent)];
    const paired = pairByFamily(v4, v6);
    expect(paired).toHaveLength(3);
    const ext = paired[0] as DualStackListeningPoint;
    expect(ext).toBeInstanceOf(DualStackListeningPoint);
    expect(ext.ipv6).toEqual({ host: '::1', port: 5060 });
    expect(paired[1]).toBe(v4[1]);
    expect(paired[2]).toBe(v6[1]);
    ext.sendTo(Buffer.alloc(0), '::1', 7000);
    ext.sendTo(Buffer.alloc(0), '[::1]', 7001);
    ext.sendTo(Buffer.alloc(0), '127.0.0.1', 7002);
    expect(sent).toEqual(['::1->::1:7000', '::1->[::1]:7001', '127.0.0.1->127.0.0.1:7002']);
  });

  it('gives a client a node of its own family, the same one for every message of a call, and tells the algorithm', () => {
    const registry = new NodeRegistry({ nodeTimeoutMs: 10_000, heartbeatIntervalMs: 1000 }, silentLogger());
    const v4 = registry.register({ ip: '127.0.0.1', ports: { udp: 5070 }, sessionId: 'a' });
    const v6a = registry.register({ ip: '::1', ports: { udp: 5071 }, sessionId: 'b' });
    const v6b = registry.register({ ip: '::1', ports: { udp: 5072 }, sessionId: 'c' });
    const assigned: [string, ServerNode][] = [];
    const algorithm = { assignToNode: (r: AlgorithmSipRequest, n: ServerNode) => void assigned.push([r.callId, n]) } as unknown as BalancerAlgorithm;

    expect(preferClientFamily(v6a, '::1', registry, algorithm, req('x'))).toBe(v6a);
    expect(preferClientFamily(v4, '127.0.0.1', registry, algorithm, req('x'))).toBe(v4);
    expect(assigned).toHaveLength(0);

    const chosen = preferClientFamily(v4, '::1', registry, algorithm, req('call-1'))!;
    expect([v6a, v6b]).toContain(chosen);
    expect(preferClientFamily(v4, '::1', registry, algorithm, req('call-1'))).toBe(chosen);
    expect(assigned[0]).toEqual(['call-1', chosen]);
    const spread = new Set(Array.from({ length: 20 }, (_, i) => preferClientFamily(v4, '::1', registry, algorithm, req(`c${i}`))));
    expect(spread).toEqual(new Set([v6a, v6b]));

    // No IPv4 node left: an IPv4 client keeps the IPv6 node it was given.
    registry.remove(v4, 'test');
    expect(preferClientFamily(v6a, '127.0.0.1', registry, algorithm, req('y'))).toBe(v6a);
    expect(preferClientFamily(undefined, '::1', registry, algorithm, req('z'))).toBeUndefined();
  });
});
