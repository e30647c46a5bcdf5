// End-to-end SIP calls through the daemon (a child process) with sipp as the caller and as the application servers:
// calls over UDP and TCP, spread and Call-ID stickiness over two nodes, BYE failover, 503 without nodes,
// node-initiated calls with the node hint, REGISTER headers, heartbeats on the wrong port, Max-Forwards 0.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, freePorts } from '../helpers/ports.js';
import { receivedRequests, runSipp, startSipp, type Sipp, type SippMessage, type SippResult, type SippTransport } from '../helpers/sipp.js';
import { startHeartbeat, type HeartbeatSender } from '../helpers/sip-heartbeat.js';

import { HOST, startBalancer as startSipBalancer, type Balancer } from '../helpers/sip-balancer.js';
import { waitUntil } from '../helpers/wait.js';
import { lbstat } from '../helpers/json-heartbeat.js';

/** Nodes here heartbeat every second: 3 s before one is declared dead. */
function startBalancer(extra: Record<string, string | number | boolean> = {}): Promise<Balancer> {
  return startSipBalancer({ nodeTimeout: 3000, ...extra });
}

async function getJson(port: number, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://${HOST}:${port}${path}`);
  return (await res.json()) as Record<string, unknown>;
}

interface NodeInfo {
  udpPort?: number;
  state?: string;
  routedRequests?: number;
}

async function registeredUdpPorts(lb: Balancer): Promise<number[]> {
  const info = (await getJson(lb.statisticPort, '/lbinfo'))['Nodes info'] as { nodesIPv4: NodeInfo[] };
  return info.nodesIPv4.filter((n) => n.state === undefined || n.state === 'active').map((n) => Number(n.udpPort));
}

/** Requests the balancer has routed to its nodes, summed (/lbinfo; counted when a node is picked, before sending). */
async function routedToNodes(lb: Balancer): Promise<number> {
  const info = (await getJson(lb.statisticPort, '/lbinfo'))['Nodes info'] as { nodesIPv4: NodeInfo[] };
  return info.nodesIPv4.reduce((sum, n) => sum + (n.routedRequests ?? 0), 0);
}

async function waitForNodes(lb: Balancer, ports: number[], timeoutMs = 5000): Promise<void> {
  let seen: number[] = [];
  try {
    await waitUntil(async () => {
      seen = await registeredUdpPorts(lb);
      return ports.every((p) => seen.includes(p));
    }, `nodes ${ports.join(', ')} in /lbinfo`, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; registered: [${seen.join(', ')}]; daemon log tail:\n${lb.daemon.output().slice(-1500)}`);
  }
}

/** Every value of a header over all its lines (comma-separated lists split), by long or compact name. */
function headerValues(m: SippMessage, name: string, compact?: string): string[] {
  const lines = [...(m.headers.get(name) ?? []), ...(compact ? m.headers.get(compact) ?? [] : [])];
  return lines.flatMap((l) => l.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

function header(m: SippMessage, name: string): string | undefined {
  return m.headers.get(name.toLowerCase())?.[0];
}

function describeResult(name: string, r: SippResult): string {
  return `${name}: exit ${r.code}${r.timedOut ? ' (killed at timeout)' : ''}, stats ${JSON.stringify({ ok: r.stats?.successfulCalls, failed: r.stats?.failedCalls, retrans: r.stats?.retransmissions })}\nerrors: ${r.errors.slice(-1500)}\nscreen: ${r.output.slice(-800)}`;
}

/** Requests each node received, as Call-ID → methods. */
function callsByNode(nodes: readonly SippResult[]): Map<string, string[]>[] {
  return nodes.map((n) => {
    const map = new Map<string, string[]>();
    for (const m of receivedRequests(n.messages)) {
      const list = map.get(m.callId ?? '') ?? [];
      list.push(m.method!);
      map.set(m.callId ?? '', list);
    }
    return map;
  });
}

type Registration = 'heartbeat' | 'extraServerNodes';

interface Cluster {
  lb: Balancer;
  nodePorts: number[];
  nodes: Sipp[];
  heartbeats: HeartbeatSender[];
  /** Stops the nodes and returns what each received. */
  stopNodes(): Promise<SippResult[]>;
  stop(): Promise<void>;
}

/** A balancer with `count` sipp UAS nodes registered the chosen way, listening on `transport`. */
async function startCluster(opts: { count: number; transport: SippTransport; registration: Registration; properties?: Record<string, string | number | boolean> }): Promise<Cluster> {
  const nodePorts = await freePorts(opts.count);
  const extra: Record<string, string | number | boolean> = { ...opts.properties };
  if (opts.registration === 'extraServerNodes') {
    extra.extraServerNodes = nodePorts.map((p) => `${HOST}:${p}`).join(',');
    extra.performanceTestingMode = true;
  }
  const lb = await startBalancer(extra);
  const nodes: Sipp[] = [];
  const heartbeats: HeartbeatSender[] = [];
  let nodeResults: Promise<SippResult[]> | undefined;
  const cluster: Cluster = {
    lb,
    nodePorts,
    nodes,
    heartbeats,
    stopNodes() {
      nodeResults ??= Promise.all(nodes.map((n) => n.stop()));
      return nodeResults;
    },
    async stop() {
      await Promise.all(heartbeats.map((h) => h.stop()));
      await cluster.stopNodes();
      await lb.stop();
    },
  };
  try {
    for (const port of nodePorts) {
      nodes.push(await startSipp({ scenario: 'uas.xml', localPort: port, transport: opts.transport, traceMessages: true, timeoutMs: 120_000 }));
      if (opts.registration === 'heartbeat') {
        // Every 500 ms, so a nodeTimeout of 1500 ms (the failover tests) never expires a healthy node on a busy machine.
        heartbeats.push(await startHeartbeat({ balancerPort: lb.internalPort, node: { udpPort: port, tcpPort: port }, intervalMs: 500 }));
      }
    }
    await waitForNodes(lb, nodePorts);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

describe('the sipp harness itself', () => {
  it('a sipp UAC completes calls directly against a sipp UAS, and the UAS log shows each request', async () => {
    const [uacPort, uasPort] = await freePorts(2);
    const uas = await startSipp({ scenario: 'uas.xml', localPort: uasPort!, traceMessages: true });
    const uac = await runSipp({ scenario: 'uac.xml', localPort: uacPort!, remote: `${HOST}:${uasPort}`, calls: 3, rate: 100, callLengthMs: 10, timeoutMs: 15_000 });
    const node = await uas.stop();
    expect(uac.code, describeResult('uac', uac)).toBe(0);
    expect(uac.stats?.successfulCalls).toBe(3);
    const [calls] = callsByNode([node]);
    expect([...calls!.values()]).toEqual([['INVITE', 'ACK', 'BYE'], ['INVITE', 'ACK', 'BYE'], ['INVITE', 'ACK', 'BYE']]);
  });
});

const combos: { transport: SippTransport; registration: Registration }[] = [
  { transport: 'u1', registration: 'heartbeat' },
  { transport: 't1', registration: 'heartbeat' },
  { transport: 'u1', registration: 'extraServerNodes' },
  { transport: 't1', registration: 'extraServerNodes' },
];

describe.each(combos)('calls over $transport with nodes registered by $registration', ({ transport, registration }) => {
  const name = transport === 'u1' ? 'UDP' : 'TCP';
  // The balancer's ports of this transport (port 0 gives UDP and TCP a port each).
  const ext = (): number => (transport === 'u1' ? cluster.lb.externalPort : cluster.lb.externalTcpPort);
  const int = (): number => (transport === 'u1' ? cluster.lb.internalPort : cluster.lb.internalTcpPort);
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ count: 2, transport, registration });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it(`a call (INVITE/100/180/200/ACK/BYE/200) completes over ${name}, with the balancer in the path`, async () => {
    const uacPort = await freePort();
    const uac = await runSipp({
      scenario: 'uac.xml', localPort: uacPort, remote: `${HOST}:${ext()}`, transport,
      calls: 1, callLengthMs: 50, traceMessages: true, recvTimeoutMs: 5000, timeoutMs: 15_000,
    });
    expect(uac.code, describeResult('uac', uac)).toBe(0);
    // sipp's UAS never sends 100 Trying: the one the caller got came from the balancer.
    const toCaller = uac.messages.filter((m) => m.direction === 'received');
    expect(toCaller.map((m) => m.status)).toContain(100);
    const ok = toCaller.find((m) => m.status === 200 && m.cseqMethod === 'INVITE')!;
    expect(headerValues(ok, 'via', 'v'), 'the balancer removes its own Via values from responses').toHaveLength(1);
    const callId = ok.callId!;

    const seen = nodesThatSaw(cluster, callId);
    expect(seen.length, 'exactly one node gets the call').toBe(1);
    const requests = receivedRequests(cluster.nodes[seen[0]!]!.messagesSoFar()).filter((m) => m.callId === callId);
    expect(requests.map((m) => m.method)).toEqual(['INVITE', 'ACK', 'BYE']);
    const invite = requests[0]!;
    const vias = headerValues(invite, 'via', 'v');
    expect(vias.length, 'a Via per balancer leg on top of the caller\'s').toBe(3);
    expect(vias[0]).toContain(`${HOST}:${int()}`);
    expect(vias[2]).toContain(`${HOST}:${uacPort}`);
    const rr = headerValues(invite, 'record-route');
    expect(rr, 'two Record-Route entries (external and internal leg)').toHaveLength(2);
    const nodePort = cluster.nodePorts[seen[0]!]!;
    for (const entry of rr) {
      expect(entry).toContain(';lr');
      expect(entry).toContain(`node_host=${HOST}`);
      expect(entry).toContain(`node_port=${nodePort}`);
    }
    expect(rr.some((e) => e.includes(`:${ext()}`))).toBe(true);
    expect(rr.some((e) => e.includes(`:${int()}`))).toBe(true);
    expect(header(invite, 'max-forwards')).toBe('69');
    // The INVITE has a body: the node learns where the caller really is.
    expect(header(invite, 'x-sip-balancer-initialremoteaddr')).toBe(HOST);
    expect(header(invite, 'x-sip-balancer-initialremoteport')).toBe(String(uacPort));
  });

  it('100 calls over two nodes: every call completes, each node gets 40-60%, every request of a Call-ID reaches one node', async () => {
    const uacPort = await freePort();
    const before = cluster.nodes.map((n) => new Set(receivedRequests(n.messagesSoFar()).map((m) => m.callId)));
    const uac = await runSipp({
      scenario: 'uac.xml', localPort: uacPort, remote: `${HOST}:${ext()}`, transport,
      calls: 100, rate: 100, callLengthMs: 20, recvTimeoutMs: 5000, timeoutMs: 30_000,
    });
    expect(uac.code, describeResult('uac', uac)).toBe(0);
    expect(uac.stats?.successfulCalls).toBe(100);
    const perNode = cluster.nodes.map((n, i) => {
      const map = new Map<string, string[]>();
      for (const m of receivedRequests(n.messagesSoFar())) {
        if (before[i]!.has(m.callId)) continue;
        map.set(m.callId!, [...(map.get(m.callId!) ?? []), m.method!]);
      }
      return map;
    });
    const counts = perNode.map((m) => m.size);
    expect(counts[0]! + counts[1]!, `calls per node: ${counts.join(', ')}`).toBe(100);
    for (const c of counts) {
      expect(c).toBeGreaterThanOrEqual(40);
      expect(c).toBeLessThanOrEqual(60);
    }
    for (const id of perNode[0]!.keys()) expect(perNode[1]!.has(id), `Call-ID ${id} reached both nodes`).toBe(false);
    // Each call's requests, in order; a retransmission (sipp resends a BYE whose 200 OK is late on a loaded
    // machine) is the same request again, so repeats are folded.
    for (const map of perNode) for (const methods of map.values()) expect(methods.filter((m, i) => m !== methods[i - 1])).toEqual(['INVITE', 'ACK', 'BYE']);
  });

  it('REGISTER reaches a node with X-Sip-Balancer-InitialRemoteAddr/Port naming the client', async () => {
    const uacPort = await freePort();
    const uac = await runSipp({
      scenario: 'uac-register.xml', localPort: uacPort, remote: `${HOST}:${ext()}`, transport,
      calls: 1, traceMessages: true, recvTimeoutMs: 5000, timeoutMs: 15_000,
    });
    expect(uac.code, describeResult('uac', uac)).toBe(0);
    const callId = uac.messages.find((m) => m.method === 'REGISTER')!.callId!;
    const seen = nodesThatSaw(cluster, callId);
    expect(seen).toHaveLength(1);
    const register = receivedRequests(cluster.nodes[seen[0]!]!.messagesSoFar()).find((m) => m.callId === callId)!;
    expect(register.method).toBe('REGISTER');
    expect(header(register, 'x-sip-balancer-initialremoteaddr')).toBe(HOST);
    expect(header(register, 'x-sip-balancer-initialremoteport')).toBe(String(uacPort));
  });

  it('Max-Forwards: 0 gets 483 Too Many Hops and nothing reaches a node', async () => {
    const routedBefore = await routedToNodes(cluster.lb);
    const uacPort = await freePort();
    const uac = await runSipp({
      scenario: 'uac-expect-483.xml', localPort: uacPort, remote: `${HOST}:${ext()}`, transport,
      calls: 1, traceMessages: true, recvTimeoutMs: 5000, timeoutMs: 15_000,
    });
    expect(uac.code, describeResult('uac', uac)).toBe(0);
    const callId = uac.messages.find((m) => m.method === 'INVITE')!.callId!;
    // No node was picked for it: the count would have moved before anything was sent, so before the 483 came.
    // A REGISTER after it is routed, and counted once: the count is live, and the INVITE added nothing to it.
    const register = await runSipp({
      scenario: 'uac-register.xml', localPort: uacPort, remote: `${HOST}:${ext()}`, transport,
      calls: 1, recvTimeoutMs: 5000, timeoutMs: 15_000,
    });
    expect(register.code, describeResult('register', register)).toBe(0);
    expect(await routedToNodes(cluster.lb)).toBe(routedBefore + 1);
    expect(nodesThatSaw(cluster, callId)).toEqual([]);
  });
});

function nodesThatSaw(cluster: Cluster, callId: string): number[] {
  return cluster.nodes.flatMap((n, i) => (receivedRequests(n.messagesSoFar()).some((m) => m.callId === callId) ? [i] : []));
}

describe('failover and node-initiated calls (UDP, heartbeats)', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ count: 2, transport: 'u1', registration: 'heartbeat', properties: { nodeTimeout: 1500, heartbeatInterval: 100 } });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('a node\'s heartbeats stop after the ACK: its BYE is answered by the other node and the call completes', async () => {
    const uacPort = await freePort();
    const uac = await startSipp({
      scenario: 'uac.xml', localPort: uacPort, remote: `${HOST}:${cluster.lb.externalPort}`,
      calls: 1, callLengthMs: 3500, traceMessages: true, recvTimeoutMs: 8000, timeoutMs: 20_000,
    });
    let callId: string | undefined;
    await waitUntil(() => {
      callId = uac.messagesSoFar().find((m) => m.method === 'INVITE' && m.direction === 'sent')?.callId;
      return callId !== undefined && nodesThatSaw(cluster, callId).length > 0 &&
        cluster.nodes.some((n) => receivedRequests(n.messagesSoFar()).some((m) => m.callId === callId && m.method === 'ACK'));
    }, 'the call\'s ACK at a node');
    const [owner] = nodesThatSaw(cluster, callId!);
    const other = 1 - owner!;
    // The owner's sipp keeps running: only its registration goes, so the BYE must be routed elsewhere.
    await cluster.heartbeats[owner!]!.stop();
    await waitUntil(async () => !(await registeredUdpPorts(cluster.lb)).includes(cluster.nodePorts[owner!]!), 'the silent node to expire', 4000);
    const result = await uac.done;
    expect(result.code, describeResult('uac', result)).toBe(0);
    const atOwner = receivedRequests(cluster.nodes[owner!]!.messagesSoFar()).filter((m) => m.callId === callId).map((m) => m.method);
    const atOther = receivedRequests(cluster.nodes[other]!.messagesSoFar()).filter((m) => m.callId === callId).map((m) => m.method);
    expect(atOwner).toEqual(['INVITE', 'ACK']);
    expect(atOther).toEqual(['BYE']);
  });

  it('a node initiates a call to a UA through the internal port with the node hint; the responses and the UA\'s BYE return to that node', async () => {
    const [callerPort, uaPort] = await freePorts(2);
    const hb = await startHeartbeat({ balancerPort: cluster.lb.internalPort, node: { udpPort: callerPort!, tcpPort: callerPort! }, intervalMs: 500 });
    try {
      await waitForNodes(cluster.lb, [callerPort!]);
      const ua = await startSipp({ scenario: 'ua-hangup.xml', localPort: uaPort!, calls: 1, traceMessages: true, timeoutMs: 15_000 });
      const caller = await runSipp({
        scenario: 'node-caller.xml', localPort: callerPort!, remote: `${HOST}:${cluster.lb.internalPort}`,
        calls: 1, keys: { ua_host: HOST, ua_port: uaPort! }, traceMessages: true, recvTimeoutMs: 5000, timeoutMs: 15_000,
      });
      const uaResult = await ua.stop(3000);
      expect(caller.code, describeResult('node caller', caller)).toBe(0);
      expect(uaResult.stats?.successfulCalls, describeResult('ua', uaResult)).toBe(1);
      const invite = receivedRequests(uaResult.messages).find((m) => m.method === 'INVITE')!;
      expect(invite, 'the INVITE reached the UA').toBeDefined();
      // Toward the UA the balancer's external leg is on top, and both legs are recorded with the calling node's hint.
      expect(headerValues(invite, 'via', 'v')[0]).toContain(`${HOST}:${cluster.lb.externalPort}`);
      const rr = headerValues(invite, 'record-route');
      expect(rr).toHaveLength(2);
      for (const entry of rr) expect(entry).toContain(`node_port=${callerPort}`);
      expect(rr.some((e) => e.includes(`:${cluster.lb.externalPort}`))).toBe(true);
      expect(rr.some((e) => e.includes(`:${cluster.lb.internalPort}`))).toBe(true);
      // The UA's BYE went to the calling node, not to the other two.
      const bye = receivedRequests(caller.messages).find((m) => m.method === 'BYE');
      expect(bye?.callId).toBe(invite.callId);
      expect(nodesThatSaw(cluster, invite.callId!)).toEqual([]);
    } finally {
      await hb.stop();
    }
  });
});

describe('no node, and heartbeats on the external port', () => {
  let lb: Balancer;
  beforeAll(async () => {
    lb = await startBalancer();
  });
  afterAll(async () => {
    await lb?.stop();
  });

  it('a heartbeat sent to the external port registers nothing (and is counted)', async () => {
    const nodePort = await freePort();
    const hb = await startHeartbeat({ balancerPort: lb.externalPort, node: { udpPort: nodePort }, intervalMs: 200 });
    try {
      // Three heartbeats seen and ignored: had one registered the node, it would be listed by now.
      await waitUntil(async () => Number((await lbstat(lb.statisticPort)).SipHeartbeatsOnExternalPort ?? 0) >= 3, 'three heartbeats on the external port');
      expect(await registeredUdpPorts(lb)).toEqual([]);
    } finally {
      await hb.stop();
    }
  });

  it('with no node registered an INVITE gets 503 Service Unavailable with Retry-After', async () => {
    const uacPort = await freePort();
    const uac = await runSipp({
      scenario: 'uac-expect-503.xml', localPort: uacPort, remote: `${HOST}:${lb.externalPort}`,
      calls: 1, traceMessages: true, recvTimeoutMs: 5000, timeoutMs: 15_000,
    });
    expect(uac.code, describeResult('uac', uac)).toBe(0);
    const answer = uac.messages.find((m) => m.direction === 'received' && m.status === 503)!;
    expect(header(answer, 'retry-after')).toMatch(/^\d+/);
  });
});
