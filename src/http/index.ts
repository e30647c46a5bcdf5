// The HTTP/HTTPS and WebSocket balancer service, started by the composition root when httpPort or httpsPort is set.

import type { Service, ServiceContext } from '../service.js';
import { HttpBalancer } from './balancer.js';
import { HttpStats } from './http-stats.js';

export function createHttpService(ctx: ServiceContext): Service {
  const stats = new HttpStats();
  ctx.stats.addProtocol(stats);
  return new HttpBalancer(ctx, stats);
}
