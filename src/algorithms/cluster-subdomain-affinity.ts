// cluster-subdomain-affinity (the original's ClusterSubdomainAffinityAlgorithm): Call-ID affinity whose
// failover prefers a live node of the dead node's group (subclusterMap), e.g. the partner holding its
// replicated sessions; nodes in no group, or groups with no live member, fail over like the default.

import { registerAlgorithm, type AlgorithmContext } from './algorithm.js';
import { AffinityMapAlgorithm } from './affinity-map.js';
import type { ServerNode } from '../registry/server-node.js';
import type { PropertyReader } from '../config/reader.js';

/**
 * Parses `( 192.168.1.1, 192.168.1.2 ) ( 10.10.10.10,20.20.20.20, 30.30.30.30)`: groups in parentheses,
 * hosts (or host:port) separated by commas, spaces free. Throws an Error saying what is wrong and where
 * (the config loader adds the line number). A host in two groups is an error: its failover would be ambiguous.
 */
export function parseSubclusterMap(value: string): string[][] {
  const groups: string[][] = [];
  const seen = new Map<string, number>();
  let i = 0;
  const text = value;
  const skipSpaces = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\r' || text[i] === '\n')) i++;
  };
  for (;;) {
    skipSpaces();
    if (i >= text.length) break;
    if (text[i] !== '(') {
      throw new Error(`subclusterMap: expected "(" at character ${i + 1}, found "${text[i]}" (write groups as (host1,host2)(host3,host4))`);
    }
    const close = text.indexOf(')', i + 1);
    if (close < 0) throw new Error(`subclusterMap: the group opened at character ${i + 1} is not closed with ")"`);
    const inner = text.slice(i + 1, close);
    if (inner.includes('(')) throw new Error(`subclusterMap: "(" inside the group opened at character ${i + 1}`);
    const hosts = inner.split(',').map((h) => h.trim());
    if (hosts.some((h) => h === '')) throw new Error(`subclusterMap: empty host in group ${groups.length + 1} "(${inner})"`);
    for (const host of hosts) {
      if (/\s/.test(host)) throw new Error(`subclusterMap: "${host}" in group ${groups.length + 1} is not one host (missing comma?)`);
      const other = seen.get(host.toLowerCase());
      if (other !== undefined) {
        throw new Error(
          other === groups.length + 1
            ? `subclusterMap: host ${host} is listed twice in group ${other}`
            : `subclusterMap: host ${host} is in group ${other} and in group ${groups.length + 1}; a host may belong to one group only`,
        );
      }
      seen.set(host.toLowerCase(), groups.length + 1);
    }
    groups.push(hosts);
    i = close + 1;
  }
  return groups;
}

/** subclusterMap, read once when the configuration is loaded; a problem is reported with its line. */
function readSubclusterMap(r: PropertyReader): string[][] {
  const p = r.raw('subclusterMap');
  if (p === undefined) return [];
  try {
    return parseSubclusterMap(p.value);
  } catch (err) {
    r.error(p, 'subclusterMap', (err as Error).message.replace(/^subclusterMap: /, ''));
    return [];
  }
}

export class ClusterSubdomainAffinityAlgorithm extends AffinityMapAlgorithm {
  readonly name = 'cluster-subdomain-affinity';
  /** host (ip, hostname or host:port, lower case) → group index. */
  private groupOf = new Map<string, number>();

  protected override configure(ctx: AlgorithmContext): void {
    const groups = ctx.config.algorithm.subclusterMap;
    this.groupOf = new Map();
    groups.forEach((hosts, g) => hosts.forEach((h) => this.groupOf.set(h.toLowerCase(), g)));
    ctx.log.info(`cluster-subdomain-affinity: ${groups.length} subcluster groups: ${groups.map((g) => `(${g.join(',')})`).join(' ')}`);
  }

  /** The group index of a node, matched by ip:udp-port, ip, hostname, in that order; undefined when in none. */
  groupIndex(node: ServerNode): number | undefined {
    const port = node.ports.udp ?? node.ports.tcp ?? node.ports.tls ?? node.ports.ws ?? node.ports.wss;
    return (
      (port !== undefined ? this.groupOf.get(`${node.ip}:${port}`.toLowerCase()) : undefined) ??
      this.groupOf.get(node.ip.toLowerCase()) ??
      this.groupOf.get(node.hostname.toLowerCase())
    );
  }

  protected override failoverTarget(dead: ServerNode): ServerNode | undefined {
    const group = this.groupIndex(dead);
    if (group !== undefined) {
      // The least busy active partner of the same group.
      let best: ServerNode | undefined;
      let bestCalls = Infinity;
      for (const node of this.picker.candidates) {
        if (node.id === dead.id || this.groupIndex(node) !== group) continue;
        const calls = this.callsOn(node);
        if (calls < bestCalls) {
          best = node;
          bestCalls = calls;
        }
      }
      if (best) return best;
    }
    return super.failoverTarget(dead);
  }
}

registerAlgorithm('cluster-subdomain-affinity', () => new ClusterSubdomainAffinityAlgorithm(), {
  description: 'Call-ID affinity with failover inside subcluster groups',
  javaNames: ['ClusterSubdomainAffinityAlgorithm'],
  readConfig: (r) => ({ subclusterMap: readSubclusterMap(r) }),
});
