// The text forms of the probing keys: `staticNodes` entries (host:port[;transport=udp|tcp|tls][;version=v])
// and `nodeProbeAliveStatuses` (codes and ranges). Pure parsers: the config reader turns their messages
// into file:line errors.

import { isIP } from 'node:net';
import type { StaticNodeEntry } from '../config/types.js';

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/;
const TRANSPORTS = ['udp', 'tcp', 'tls'] as const;

/** One staticNodes entry, or a message saying what is wrong with it. */
export function parseStaticNode(item: string): StaticNodeEntry | string {
  const [address = '', ...params] = item.trim().split(';');
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(address);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
    if (isIP(host) !== 6) return `"${item}": ${host} is not an IPv6 address`;
  } else {
    const parts = address.split(':');
    if (parts.length !== 2) return `"${item}" is not host:port (write an IPv6 address as [::1]:5060)`;
    host = parts[0]!;
    portText = parts[1];
    if (!isIP(host) && !(HOST_NAME.test(host) && host.length <= 253)) return `"${item}": ${host} is not an IP address or host name`;
  }
  const port = /^\d+$/.test(portText ?? '') ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) return `"${item}": the port must be a number from 1 to 65535`;
  let transport: StaticNodeEntry['transport'] = 'udp';
  let version = '0';
  for (const param of params) {
    const [name = '', value = ''] = param.split('=').map((s) => s.trim());
    if (name.toLowerCase() === 'transport') {
      const t = value.toLowerCase();
      if (!(TRANSPORTS as readonly string[]).includes(t)) return `"${item}": transport=${value}: expected udp, tcp or tls`;
      transport = t as StaticNodeEntry['transport'];
    } else if (name.toLowerCase() === 'version' && value !== '') {
      version = value;
    } else {
      return `"${item}": unknown parameter "${param}" (expected transport=udp|tcp|tls or version=…)`;
    }
  }
  return { host, port, transport, version };
}

/** `200-299,404` style status lists: inclusive ranges, or a message saying what is wrong. */
export function parseStatusRanges(text: string): [number, number][] | string {
  const out: [number, number][] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN;
    const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    if (!(lo >= 100 && hi <= 699 && lo <= hi)) return `"${part}" is not a SIP status code or range (such as 200-499)`;
    out.push([lo, hi]);
  }
  if (out.length === 0) return 'expected at least one status code or range';
  return out;
}
