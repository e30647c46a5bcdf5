// The static-nodes section of lb.properties: SIP servers that cannot heartbeat, probed with OPTIONS
// (src/registry/probe.ts), and the probe's timers and thresholds.

import { parseStaticNode, parseStatusRanges } from '../registry/static-nodes.js';
import type { PropertyReader } from './reader.js';
import type { ProbeConfig } from './types.js';

export function readProbeSection(r: PropertyReader): ProbeConfig {
  const staticRaw = r.raw('staticNodes');
  const staticNodes = r.list('staticNodes').flatMap((item) => {
    const parsed = parseStaticNode(item);
    if (typeof parsed === 'string') {
      r.error(staticRaw, 'staticNodes', `${parsed}; expected host:port[;transport=udp|tcp|tls][;version=v], comma-separated`);
      return [];
    }
    return [parsed];
  });
  const aliveRaw = r.raw('nodeProbeAliveStatuses');
  const aliveParsed = parseStatusRanges(aliveRaw?.value ?? '200-499');
  if (typeof aliveParsed === 'string') r.error(aliveRaw, 'nodeProbeAliveStatuses', aliveParsed);
  r.sources.push(aliveRaw ? { key: 'nodeProbeAliveStatuses', value: aliveRaw.value, source: 'file', line: aliveRaw.line } : { key: 'nodeProbeAliveStatuses', value: '200-499', source: 'default' });
  const probe: ProbeConfig = {
    staticNodes,
    intervalMs: r.int('nodeProbeInterval', 5000, { min: 100, unit: 'milliseconds' }),
    timeoutMs: r.int('nodeProbeTimeout', 2000, { min: 10, unit: 'milliseconds' }),
    failures: r.int('nodeProbeFailures', 3, { min: 1, max: 100 }),
    successes: r.int('nodeProbeSuccesses', 2, { min: 1, max: 100 }),
    aliveStatuses: typeof aliveParsed === 'string' ? [] : aliveParsed,
  };
  if (probe.timeoutMs >= probe.intervalMs) r.error(r.raw('nodeProbeTimeout'), 'nodeProbeTimeout', `must be shorter than nodeProbeInterval (${probe.intervalMs} ms)`);
  return probe;
}
