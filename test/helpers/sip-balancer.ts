// A balancer daemon for SIP end-to-end tests: external and internal ports, JSON heartbeat and statistics
// on ports of 127.0.0.1 the daemon picks (port 0) and reports, HTTP off; `extra` adds or overrides properties.

import { afterAll, beforeAll } from 'vitest';
import { startDaemon, type Daemon } from './daemon.js';

export const HOST = '127.0.0.1';

/** The SIP, heartbeat and statistics ports a daemon reports (0 for a listener it does not have). */
export interface SipPorts {
  /** The external UDP port (externalPort=0 binds UDP and TCP on two ports). */
  externalPort: number;
  externalTcpPort: number;
  /** The internal UDP port; 0 in single-entry mode. */
  internalPort: number;
  internalTcpPort: number;
  heartbeatPort: number;
  statisticPort: number;
}

/** Reads the ports a daemon started on port 0 bound (from its start-up log lines). */
export function sipPorts(daemon: Daemon): SipPorts {
  const ports = daemon.ports();
  return {
    externalPort: ports.externalUdpPort ?? 0,
    externalTcpPort: ports.externalTcpPort ?? 0,
    internalPort: ports.internalUdpPort ?? 0,
    internalTcpPort: ports.internalTcpPort ?? 0,
    heartbeatPort: ports.heartbeatPort ?? 0,
    statisticPort: daemon.port('statisticPort'),
  };
}

export interface Balancer extends SipPorts {
  daemon: Daemon;
  /** The port of one listening point: sipPort('external', 'tcp'), sipPort('internal', 'udp', 6) (ipv6Host's). */
  sipPort(side: 'external' | 'internal', transport: 'udp' | 'tcp' | 'tls' | 'ws' | 'wss', family?: 4 | 6): number;
  stop(): Promise<void>;
}

/** The properties startBalancer writes before `extra` (every port 0: the daemon picks), for tests that rewrite the file. */
export function sipBalancerProperties(): Record<string, string | number | boolean> {
  return {
    host: HOST,
    externalPort: 0,
    internalPort: 0,
    heartbeatPort: 0,
    statisticPort: 0,
    httpPort: '',
    nodeTimeout: 1500,
    heartbeatInterval: 100,
  };
}

export async function startBalancer(extra: Record<string, string | number | boolean> = {}): Promise<Balancer> {
  const daemon = await startDaemon({ properties: { ...sipBalancerProperties(), ...extra } });
  return {
    daemon,
    ...sipPorts(daemon),
    sipPort: (side, transport, family = 4) => daemon.port(`${side}${family === 6 ? 'Ipv6' : ''}${transport[0]!.toUpperCase()}${transport.slice(1)}Port`),
    stop: async () => void (await daemon.stop()),
  };
}

/** A balancer for a whole describe block: started before its tests, handed to `use`, stopped after them. */
export function balancerForSuite(use: (lb: Balancer) => void, extra: Record<string, string | number | boolean> = {}): void {
  let lb: Balancer | undefined;
  beforeAll(async () => {
    lb = await startBalancer(extra);
    use(lb);
  }, 30_000);
  afterAll(async () => {
    await lb?.stop();
  });
}
