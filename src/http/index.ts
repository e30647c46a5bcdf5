// Placeholder for the HTTP balancer until its issue lands: the composition root already starts and stops it.

import type { Service, ServiceContext } from '../service.js';

export function createHttpService(ctx: ServiceContext): Service {
  return {
    name: 'HTTP balancer',
    async start() {
      ctx.log.warn('HTTP balancer is not built yet in this version');
    },
    async stop() {},
  };
}
