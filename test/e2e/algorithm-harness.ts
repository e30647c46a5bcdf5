// Shared set-up of the algorithm end-to-end tests: balancer daemons with chosen algorithm properties,
// sipp UAS nodes registered by SIP heartbeats (to one or several balancers), sipp UAC calls.

import { freePort } from '../helpers/ports.js';
import { receivedRequests, runSipp, startSipp, type Sipp, type SippResult } from '../helpers/sipp.js';
import { startHeartbeat, type HeartbeatSender } from '../helpers/sip-heartbeat.js';

export { HOST, startBalancer, type Balancer } from '../helpers/sip-balancer.js';
import { HOST, type Balancer } from '../helpers/sip-balancer.js';

/** UDP ports of the active nodes a balancer lists in /lbinfo. */
export async function activeNodePorts(lb: Balancer): Promise<number[]> {
  const res = await fetch(`http://${HOST}:${lb.statisticPort}/lbinfo`);
  const info = ((await res.json()) as Record<string, unknown>)['Nodes info'] as { nodesIPv4: { udpPort?: number; state?: string }[] };
  return info.nodesIPv4.filter((n) => n.state === undefined || n.state === 'active').map((n) => Number(n.udpPort));
}

export interface TestNode {
  port: number;
  sipp: Sipp;
  /** One heartbeat sender per balancer it registers with. */
  heartbeats: HeartbeatSender[];
  /** Call-IDs of the requests of `method` this node received so far. */
  callIds(method?: string): Set<string>;
  /** Stops the heartbeats: the node expires after nodeTimeout, its sipp keeps answering. */
  silence(): Promise<void>;
  stop(): Promise<SippResult>;
}

/** A sipp UAS on a free port, heart-beating to each balancer (500 ms, same sessionId everywhere). */
export async function startNode(balancers: Balancer[], opts: { scenario?: string } = {}): Promise<TestNode> {
  const port = await freePort();
  const sipp = await startSipp({ scenario: opts.scenario ?? 'uas.xml', localPort: port, traceMessages: true, timeoutMs: 120_000 });
  const heartbeats: HeartbeatSender[] = [];
  for (const lb of balancers) heartbeats.push(await startHeartbeat({ balancerPort: lb.internalPort, node: { udpPort: port, tcpPort: port }, intervalMs: 500 }));
  let stopped: Promise<SippResult> | undefined;
  const node: TestNode = {
    port,
    sipp,
    heartbeats,
    callIds: (method) => new Set(receivedRequests(sipp.messagesSoFar()).filter((m) => method === undefined || m.method === method).map((m) => m.callId!)),
    silence: async () => void (await Promise.all(heartbeats.map((h) => h.stop()))),
    stop: () => {
      stopped ??= node.silence().then(() => sipp.stop());
      return stopped;
    },
  };
  return node;
}

/** Runs `calls` sipp UAC calls through a balancer and returns the result. */
export async function runCalls(lb: Balancer, opts: { calls: number; service?: string; callLengthMs?: number; rate?: number; trace?: boolean }): Promise<SippResult> {
  return runSipp({
    scenario: 'uac.xml',
    localPort: await freePort(),
    remote: `${HOST}:${lb.externalPort}`,
    calls: opts.calls,
    rate: opts.rate ?? 50,
    callLengthMs: opts.callLengthMs ?? 10,
    service: opts.service,
    traceMessages: opts.trace ?? true,
    recvTimeoutMs: 5000,
    timeoutMs: 30_000,
  });
}

/** Call-IDs of the INVITEs a UAC sent. */
export function sentInvites(result: SippResult): string[] {
  return [...new Set(result.messages.filter((m) => m.direction === 'sent' && m.method === 'INVITE').map((m) => m.callId!))];
}

export function describeResult(name: string, r: SippResult): string {
  return `${name}: exit ${r.code}${r.timedOut ? ' (killed at timeout)' : ''}, ok ${r.stats?.successfulCalls} failed ${r.stats?.failedCalls}\nerrors: ${r.errors.slice(-1200)}\nscreen: ${r.output.slice(-600)}`;
}
