// Keys that are not the daemon's: the original's keys without effect here (said once, with the reason),
// JAIN SIP stack tuning (one debug line), and unknown keys (a warning with the nearest known key).

import type { PropertyReader, RawProperty } from './reader.js';

/** Keys the original reads that have no meaning for this daemon: accepted, with the reason. */
const WITHOUT_EFFECT: Readonly<Record<string, string>> = {
  rmiRegistryPort: 'RMI heartbeats are Java-only; nodes register with the JSON heartbeat on heartbeatPort or SIP OPTIONS/INFO heartbeats on an internal SIP port',
  rmiRemoteObjectPort: 'RMI heartbeats are Java-only; nodes register with the JSON heartbeat on heartbeatPort or SIP OPTIONS/INFO heartbeats on an internal SIP port',
  jmxHtmlAdapterPort: 'there is no JMX here; statistics are on statisticPort (/lbstat, /metrics)',
  persistentConsistentHashCacheConfiguration: 'the JBoss Cache/Infinispan store is replaced by affinityStore=redis://host:port',
  logConfigFile: 'logging is configured with logLevel and --log-level / --log-format',
  responseReasonNodeRemoval: 'the original never used it',
  removeNodesOn500Response: 'the original never used it; use responsesStatusCodeNodeRemoval',
  usePrettyEncoding: 'messages are forwarded byte for byte',
  nonBlockingSocketsEnabled: 'all sockets are non-blocking in Node.js',
  defaultSessionCountersEnabled: 'SMPP counters are always on (/lbstat, /metrics)',
  maxContentLength: 'HTTP bodies are streamed, never buffered whole',
  smppName: 'informational only',
  isUseRrSendSmppRequestToClient: 'mux mode always delivers round robin over the ESMEs of a system_id; regular mode relays to the ESME that owns the connection',
  earlyDialogWorstCase: 'the WorstCaseUdpTestAffinityAlgorithm test algorithm is not provided',
  'java.net.debug': 'use --log-level debug',
  'javax.net.debug': 'use --log-level debug',
  'javax.net.ssl.keyStoreType': 'the keystore format is recognised by content',
  'javax.net.ssl.trustStoreType': 'the trust store format is recognised by content',
};

/** Keys that algorithms and plug-ins read from config.properties themselves (not warned as unknown). */
const ALGORITHM_KEYS = [
  'weight',
];

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

function closest(key: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const k = key.toLowerCase();
  for (const cand of known) {
    const d = levenshtein(k, cand.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = cand;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 5)) ? best : undefined;
}


/**
 * Reports every property no section read: keys of the original without effect, stack keys and unknown
 * keys, then keys set more than once. Returns the keys accepted but not applicable, for one debug line.
 */
export function reportUnreadKeys(r: PropertyReader, props: ReadonlyMap<string, RawProperty>, duplicates: readonly { key: string; lines: number[] }[]): string[] {
  const notApplicable: string[] = [];
  for (const [key, p] of props) {
    if (r.known.has(key)) continue;
    if (Object.hasOwn(WITHOUT_EFFECT, key)) {
      r.known.add(key);
      if (key === 'rmiRegistryPort' || key === 'rmiRemoteObjectPort') {
        if (!r.warnings.some((w) => w.includes('RMI heartbeats'))) r.warn({ key, ...p }, key, `accepted but not used: ${WITHOUT_EFFECT[key]}`);
      } else {
        notApplicable.push(`${key} (${WITHOUT_EFFECT[key]})`);
      }
      continue;
    }
    if (key.startsWith('javax.sip.') || key.startsWith('gov.nist.')) {
      notApplicable.push(key);
      continue;
    }
    if (ALGORITHM_KEYS.includes(key)) continue;
    const suggestion = closest(key, [...r.known, ...Object.keys(WITHOUT_EFFECT)]);
    r.warn({ key, ...p }, key, `unknown key, ignored${suggestion ? ` (did you mean ${suggestion}?)` : ''}`);
  }
  for (const d of duplicates) {
    if (r.known.has(d.key)) r.warnings.push(`${r.file}:${d.lines.at(-1)}: ${d.key} is set ${d.lines.length} times (lines ${d.lines.join(', ')}); the last one is used`);
  }
  return notApplicable;
}
