// Shared fixtures of the algorithm unit tests: a context from real lb.properties text, nodes, requests.

import { randomUUID } from 'node:crypto';
import { loadConfigText } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { NodeRegistry } from '../../src/registry/node-registry.js';
import { ServerNode, type ServerNodeInit } from '../../src/registry/server-node.js';
import type { AlgorithmContext, AlgorithmSipRequest, BalancerAlgorithm } from '../../src/algorithms/algorithm.js';
import { createBuiltInAlgorithm } from '../../src/algorithms/index.js';

export function contextFor(props: Record<string, string | number> = {}, registry?: NodeRegistry): AlgorithmContext {
  const text = Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
  const config = loadConfigText(text).config;
  const log = silentLogger();
  return { config, properties: config.properties, registry: registry ?? new NodeRegistry({ nodeTimeoutMs: 8400, heartbeatIntervalMs: 150 }, log), log };
}

export async function algorithm(name: string, props: Record<string, string | number> = {}): Promise<BalancerAlgorithm> {
  const algo = createBuiltInAlgorithm(name);
  if (!algo) throw new Error(`no algorithm ${name}`);
  await algo.init(contextFor({ algorithmClass: name, ...props }));
  return algo;
}

let sessions = 0;
export function node(ip: string, port = 5060, extra: Partial<ServerNodeInit> = {}, now = Date.now()): ServerNode {
  return new ServerNode({ ip, ports: { udp: port, tcp: port }, sessionId: `s${++sessions}`, ...extra }, now);
}

/** n nodes 10.0.0.1…10.0.0.n on port 5060. */
export function nodes(n: number, extra: Partial<ServerNodeInit> = {}): ServerNode[] {
  return Array.from({ length: n }, (_, i) => node(`10.0.0.${i + 1}`, 5060, extra));
}

export interface RequestInit {
  callId?: string;
  method?: string;
  fromUser?: string;
  toUser?: string;
  fromUri?: string;
  toUri?: string;
  headers?: Record<string, string>;
}

export function request(init: RequestInit = {}): AlgorithmSipRequest {
  const headers = new Map(Object.entries(init.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const fromUser = init.fromUser ?? 'alice';
  const toUser = init.toUser ?? 'bob';
  return {
    method: init.method ?? 'INVITE',
    callId: init.callId ?? randomUUID(),
    fromUser,
    toUser,
    fromUri: init.fromUri ?? `sip:${fromUser}@example.com`,
    toUri: init.toUri ?? `sip:${toUser}@example.com`,
    header: (name) => headers.get(name.toLowerCase()),
  };
}

/** Shares of `picks` per node id, in percent. */
export function shares(picks: (ServerNode | undefined)[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of picks) counts.set(p?.id ?? 'none', (counts.get(p?.id ?? 'none') ?? 0) + 1);
  return new Map([...counts].map(([id, c]) => [id, (c / picks.length) * 100]));
}
