// Placeholder for the SIP forwarder until its issue lands: the composition root already starts and stops it.

import type { Service, ServiceContext } from '../service.js';

export function createSipService(ctx: ServiceContext): Service {
  return {
    name: 'SIP forwarder',
    async start() {
      ctx.log.warn('SIP forwarder is not built yet in this version');
    },
    async stop() {},
  };
}
