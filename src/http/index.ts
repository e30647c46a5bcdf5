// The HTTP/HTTPS and WebSocket balancer service, started by the composition root when httpPort or httpsPort is set.

import type { Service, ServiceContext } from '../service.js';
import { HttpBalancer } from './balancer.js';

export function createHttpService(ctx: ServiceContext): Service {
  return new HttpBalancer(ctx);
}
