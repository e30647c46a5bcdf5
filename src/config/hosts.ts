// Host names and host:port lists as lb.properties writes them (extraServerNodes, remoteServers).

import { isIP } from 'node:net';
import type { PropertyReader, RawProperty } from './reader.js';
import type { HostPort } from './types.js';

export function isHostName(v: string): boolean {
  if (isIP(v)) return true;
  return /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/.test(v) && v.length <= 253;
}

/** Parses `host[:port]` (or `[v6]:port`) entries. */
export function parseHostPorts(r: PropertyReader, key: string, items: string[], defaultPort: number | undefined, p: RawProperty | undefined): HostPort[] {
  const out: HostPort[] = [];
  for (const item of items) {
    let host = item;
    let port = defaultPort;
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(item);
    if (v6) {
      host = v6[1]!;
      port = v6[2] !== undefined ? Number(v6[2]) : defaultPort;
    } else if (item.split(':').length === 2) {
      const [h, ps] = item.split(':') as [string, string];
      host = h;
      port = /^\d+$/.test(ps) ? Number(ps) : NaN;
    }
    if (!isHostName(host) || port === undefined || !(port >= 1 && port <= 65535)) {
      r.error(p ? { key, value: p.value, line: p.line } : undefined, key, `"${item}" is not host:port${defaultPort ? ` (or a host, port ${defaultPort})` : ''}`);
      continue;
    }
    out.push({ host, port });
  }
  return out;
}
