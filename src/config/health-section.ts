// The node-health section of lb.properties: when traffic marks a node bad (silence, slowness, error
// responses) and how long it stays out.

import type { PropertyReader } from './reader.js';
import type { HealthConfig } from './types.js';

/** How long a node marked bad from traffic stays out before it gets traffic again (nodeQuarantine). */
export const DEFAULT_QUARANTINE_MS = 30_000;

export function readHealthSection(r: PropertyReader): HealthConfig {
  const statusList = r.list('responsesStatusCodeNodeRemoval', ['503'], ['responseStatusCodeNodeRemoval']);
  const statusRaw = r.raw('responsesStatusCodeNodeRemoval', ['responseStatusCodeNodeRemoval']);
  const responsesStatusCodeNodeRemoval = statusList.map(Number).filter((n, i) => {
    const ok = Number.isInteger(n) && n >= 100 && n <= 699;
    if (!ok) r.error(statusRaw, 'responsesStatusCodeNodeRemoval', `"${statusList[i]}" is not a SIP status code (100–699)`);
    return ok;
  });
  return {
    maxRequestNumberWithoutResponse: r.optionalInt('maxRequestNumberWithoutResponse', { min: 1 }),
    maxResponseTimeMs: r.optionalInt('maxResponseTime', { min: 1, unit: 'milliseconds' }),
    responsesStatusCodeNodeRemoval,
    maxNumberResponsesWithError: r.int('maxNumberResponsesWithError', 5, { min: 1 }),
    maxErrorTimeMs: r.int('maxErrorTime', 300_000, { min: 1, unit: 'milliseconds' }),
    quarantineMs: r.int('nodeQuarantine', DEFAULT_QUARANTINE_MS, { min: 0, unit: 'milliseconds' }),
  };
}
