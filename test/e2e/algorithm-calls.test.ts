// Algorithms end to end: the daemon as a child process, sipp UAS nodes registered by SIP heartbeats, sipp
// calls. user-based affinity, active-standby failover, subcluster group failover, a custom module.

import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { receivedRequests, startSipp } from '../helpers/sipp.js';
import { freePort } from '../helpers/ports.js';
import { startHeartbeat } from '../helpers/sip-heartbeat.js';
import { HOST, activeNodePorts, describeResult, runCalls, sentInvites, startBalancer, startNode, type Balancer, type TestNode } from './algorithm-harness.js';
import { waitUntil } from '../helpers/wait.js';

let cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function cluster(properties: Record<string, string | number>, count: number): Promise<{ lb: Balancer; nodes: TestNode[] }> {
  const lb = await startBalancer(properties);
  cleanups.push(() => lb.stop());
  const nodes: TestNode[] = [];
  for (let i = 0; i < count; i++) {
    const node = await startNode([lb]);
    cleanups.push(() => node.stop());
    nodes.push(node);
    // One at a time, so that registration order is known (active-standby takes the first).
    await waitUntil(async () => (await activeNodePorts(lb)).includes(node.port), `node ${node.port} registered`);
  }
  return { lb, nodes };
}

/** Index of the node that received each INVITE. */
function ownerOf(nodes: TestNode[], callIds: string[]): number[] {
  const sets = nodes.map((n) => n.callIds('INVITE'));
  return callIds.map((id) => sets.findIndex((s) => s.has(id)));
}

describe('algorithms over real SIP calls', () => {
  it('user-based: 20 calls to one user land on one node, calls to other users elsewhere', async () => {
    const { lb, nodes } = await cluster({ algorithmClass: 'org.mobicents.tools.sip.balancer.UserBasedAlgorithm' }, 3);
    const carol = await runCalls(lb, { calls: 20, service: 'carol' });
    expect(carol.code, describeResult('uac', carol)).toBe(0);
    const owners = new Set(ownerOf(nodes, sentInvites(carol)));
    expect(owners.size, `owners ${[...owners]}`).toBe(1);
    expect(owners.has(-1)).toBe(false);
    const seen = new Set<number>(owners);
    for (const user of ['dave', 'erin', 'frank', 'grace', 'heidi', 'ivan']) {
      const r = await runCalls(lb, { calls: 2, service: user });
      expect(r.code, describeResult(user, r)).toBe(0);
      const o = new Set(ownerOf(nodes, sentInvites(r)));
      expect(o.size).toBe(1);
      o.forEach((x) => seen.add(x));
    }
    expect(seen.size, 'seven users over three nodes use more than one node').toBeGreaterThan(1);
  });

  it('active-standby: every call to the first node, all calls to the standby once it dies', async () => {
    const { lb, nodes } = await cluster({ algorithmClass: 'active-standby' }, 2);
    const first = await runCalls(lb, { calls: 6 });
    expect(first.code, describeResult('uac', first)).toBe(0);
    expect(ownerOf(nodes, sentInvites(first))).toEqual([0, 0, 0, 0, 0, 0]);
    await nodes[0]!.silence();
    await waitUntil(async () => !(await activeNodePorts(lb)).includes(nodes[0]!.port), 'the active node to expire', 5000);
    const second = await runCalls(lb, { calls: 6 });
    expect(second.code, describeResult('uac', second)).toBe(0);
    expect(ownerOf(nodes, sentInvites(second))).toEqual([1, 1, 1, 1, 1, 1]);
    await lb.daemon.waitForLog(/active-standby: .* is now the active node/, 1000);
  });

  it('cluster-subdomain-affinity: the BYE of a dead node\'s call goes to its group partner', async () => {
    // The map names the nodes by 127.0.0.1:port, so their ports are chosen before the balancer starts.
    const nodeSipps = await Promise.all([0, 1, 2, 3].map(async () => {
      const port = await freePort();
      return { port, sipp: await startSipp({ scenario: 'uas.xml', localPort: port, traceMessages: true, timeoutMs: 120_000 }) };
    }));
    cleanups.push(() => Promise.all(nodeSipps.map((n) => n.sipp.stop())));
    const [a, b, c, d] = nodeSipps.map((n) => `${HOST}:${n.port}`);
    const lb = await startBalancer({ algorithmClass: 'ClusterSubdomainAffinityAlgorithm', subclusterMap: `( ${a}, ${b} ) (${c},${d})` });
    cleanups.push(() => lb.stop());
    const beats = await Promise.all(nodeSipps.map((n) => startHeartbeat({ balancerPort: lb.internalPort, node: { udpPort: n.port, tcpPort: n.port }, intervalMs: 300 })));
    cleanups.push(() => Promise.all(beats.map((h) => h.stop())));
    await waitUntil(async () => (await activeNodePorts(lb)).length === 4, 'four nodes');

    // Eight long calls; then the node with the most of them dies before their BYEs.
    const uac = await startSipp({ scenario: 'uac.xml', localPort: await freePort(), remote: `${HOST}:${lb.externalPort}`, calls: 8, rate: 50, callLengthMs: 3500, traceMessages: true, recvTimeoutMs: 8000, timeoutMs: 30_000 });
    cleanups.push(() => uac.stop());
    const acked = (i: number): Set<string> => new Set(receivedRequests(nodeSipps[i]!.sipp.messagesSoFar()).filter((m) => m.method === 'ACK').map((m) => m.callId!));
    await waitUntil(() => [0, 1, 2, 3].reduce((s, i) => s + acked(i).size, 0) === 8, 'eight ACKs at the nodes', 5000);
    const counts = [0, 1, 2, 3].map((i) => acked(i).size);
    const victim = counts.indexOf(Math.max(...counts));
    const partner = victim ^ 1;
    const victimCalls = acked(victim);
    await beats[victim]!.stop();
    await waitUntil(async () => !(await activeNodePorts(lb)).includes(nodeSipps[victim]!.port), 'the victim to expire', 4000);
    const result = await uac.done;
    expect(result.code, describeResult('uac', result)).toBe(0);
    const byesAt = (i: number): Set<string> => new Set(receivedRequests(nodeSipps[i]!.sipp.messagesSoFar()).filter((m) => m.method === 'BYE').map((m) => m.callId!));
    for (const id of victimCalls) {
      expect(byesAt(partner).has(id), `BYE of ${id} at the partner (counts ${counts}, victim ${victim})`).toBe(true);
      expect(byesAt(victim).has(id)).toBe(false);
    }
  });

  it('a custom algorithm module from a temporary directory routes real calls', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipbalancer-custom-e2e-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const module = join(dir, 'highest-port.mjs');
    writeFileSync(module, `
      // Sends every call to the active node with the highest UDP port.
      export default class HighestPort {
        name = 'highest-port';
        init(ctx) { this.marker = ctx.properties.customMarker; ctx.log.info('highest-port ready: ' + this.marker); }
        nodesChanged(live) { this.best = live.filter((n) => n.state === 'active').sort((a, b) => b.ports.udp - a.ports.udp)[0]; }
        pickForSipRequest() { return this.best; }
      }
    `);
    const { lb, nodes } = await cluster({ algorithmClass: module, customMarker: 'xyzzy' }, 3);
    await lb.daemon.waitForLog(/highest-port ready: xyzzy/, 1000);
    const r = await runCalls(lb, { calls: 6 });
    expect(r.code, describeResult('uac', r)).toBe(0);
    const highest = nodes.map((n) => n.port).indexOf(Math.max(...nodes.map((n) => n.port)));
    expect(ownerOf(nodes, sentInvites(r))).toEqual(Array(6).fill(highest));
  });
});
