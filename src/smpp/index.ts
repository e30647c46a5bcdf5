// The SMPP broker as a service of the composition root (started when smppPort or smppSslPort is set).

import type { Service, ServiceContext } from '../service.js';
import { SmppBroker } from './broker.js';
import { SmppStats } from './smpp-stats.js';

export function createSmppService(ctx: ServiceContext): Service {
  const stats = new SmppStats();
  ctx.stats.addProtocol(stats);
  const broker = new SmppBroker(ctx.config, ctx.registry, stats, ctx.log, ctx.listeners);
  return {
    name: 'SMPP balancer',
    start: () => broker.start(),
    // Shutdown (a signal, /lbstop, or an uncaught exception) lets the requests in flight get their answers.
    drain: () => broker.drain(),
    stop: () => broker.stop(),
    // remoteServers can change live; the other SMPP keys need a restart (the reload orchestrator says so).
    reload: (next) => broker.setRemoteServers(next.smpp.remoteServers),
    info: () => ({ 'SMPP sessions': broker.info() }),
  };
}
