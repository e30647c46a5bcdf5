// A node's side of the JSON heartbeat protocol for end-to-end tests (start, then heartbeats until stopped),
// and the balancer's /lbstat metrics.

import { randomBytes } from 'node:crypto';

async function post(heartbeatPort: number, body: unknown): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${heartbeatPort}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

/** Registers a node with the balancer's JSON heartbeat and keeps it alive until the returned function is called. */
export async function registerNode(heartbeatPort: number, node: Record<string, string | number>, intervalMs = 500): Promise<() => void> {
  const sessionId = String(node.sessionId ?? randomBytes(6).toString('hex'));
  const status = await post(heartbeatPort, { start: { version: '0', ...node, sessionId } });
  if (status !== 200) throw new Error(`JSON heartbeat start answered ${status}`);
  const timer = setInterval(() => void post(heartbeatPort, { heartbeat: { sessionId } }).catch(() => undefined), intervalMs);
  return () => clearInterval(timer);
}

/** The /lbstat metrics of a balancer's statisticPort. */
export async function lbstat(statisticPort: number): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${statisticPort}/lbstat`);
  return ((await res.json()) as { Metrics: Record<string, unknown> }).Metrics;
}
