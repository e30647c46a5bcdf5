// A balancer daemon for SIP end-to-end tests: external and internal ports, JSON heartbeat and statistics
// on free ports of 127.0.0.1, HTTP off; `extra` adds or overrides properties.

import { startDaemon, type Daemon } from './daemon.js';
import { freePorts } from './ports.js';

export const HOST = '127.0.0.1';

export interface Balancer {
  daemon: Daemon;
  externalPort: number;
  internalPort: number;
  heartbeatPort: number;
  statisticPort: number;
  stop(): Promise<void>;
}

export async function startBalancer(extra: Record<string, string | number | boolean> = {}): Promise<Balancer> {
  const [externalPort, internalPort, heartbeatPort, statisticPort] = await freePorts(4);
  const daemon = await startDaemon({
    properties: {
      host: HOST,
      externalPort: externalPort!,
      internalPort: internalPort!,
      heartbeatPort: heartbeatPort!,
      statisticPort: statisticPort!,
      httpPort: '',
      nodeTimeout: 1500,
      heartbeatInterval: 100,
      ...extra,
    },
  });
  return { daemon, externalPort: externalPort!, internalPort: internalPort!, heartbeatPort: heartbeatPort!, statisticPort: statisticPort!, stop: async () => void (await daemon.stop()) };
}
