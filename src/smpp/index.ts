// Placeholder for the SMPP broker until its issue lands: the composition root already starts and stops it.

import type { Service, ServiceContext } from '../service.js';

export function createSmppService(ctx: ServiceContext): Service {
  return {
    name: 'SMPP broker',
    async start() {
      ctx.log.warn('SMPP broker is not built yet in this version');
    },
    async stop() {},
  };
}
