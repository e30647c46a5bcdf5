// The whole daemon's figures from its processes': /lbstat documents summed field by field, Prometheus
// metrics merged by prom-client's cluster aggregator (sums, unless a metric names another aggregator).

import { AggregatorRegistry, type Registry } from 'prom-client';

/** Sums numbers, merges objects key by key (summing again), keeps the first of anything else. */
export function sumDocuments(docs: readonly Record<string, unknown>[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const doc of docs) {
    for (const [key, value] of Object.entries(doc)) {
      const have = out[key];
      if (have === undefined) out[key] = isPlainObject(value) ? sumDocuments([value]) : value;
      else if (typeof have === 'number' && typeof value === 'number') out[key] = have + value;
      else if (isPlainObject(have) && isPlainObject(value)) out[key] = sumDocuments([have, value]);
    }
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One registry holding every process's metrics, counters and gauges summed. */
export function aggregateMetrics(perProcess: readonly (readonly object[])[]): Registry {
  return AggregatorRegistry.aggregate(perProcess.map((m) => [...m]));
}
