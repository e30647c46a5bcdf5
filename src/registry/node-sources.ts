// nodeAllowedSources: the gate of the node side. Addresses and CIDRs (IPv4 and IPv6) from which heartbeats (SIP
// and JSON) and node-side SIP traffic are accepted; everything else is refused and counted by the caller.

import { BlockList, isIP } from 'node:net';

/** One entry parsed: an address, or a network and its prefix length. */
export interface SourceEntry {
  readonly address: string;
  readonly prefix: number | undefined;
  readonly family: 4 | 6;
}

/** Parses `10.0.0.0/8`, `192.0.2.7`, `fd00::/8`, `::1`; undefined for anything else (the config reports it). */
export function parseSourceEntry(text: string): SourceEntry | undefined {
  const t = text.trim();
  const slash = t.indexOf('/');
  const address = slash < 0 ? t : t.slice(0, slash);
  const v = isIP(address);
  if (v === 0) return undefined;
  const family = v === 6 ? 6 : 4;
  if (slash < 0) return { address, prefix: undefined, family };
  const p = t.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p)) return undefined;
  const prefix = Number(p);
  if (prefix > (family === 4 ? 32 : 128)) return undefined;
  return { address, prefix, family };
}

/** "::ffff:10.1.2.3" (an IPv4 peer on a dual-stack socket) → "10.1.2.3". */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export class NodeSources {
  private readonly list = new BlockList();

  constructor(readonly entries: readonly SourceEntry[]) {
    for (const e of entries) {
      const type = e.family === 6 ? 'ipv6' : 'ipv4';
      if (e.prefix === undefined) this.list.addAddress(e.address, type);
      else this.list.addSubnet(e.address, e.prefix, type);
    }
  }

  /** From the configured strings; throws on an entry that is not an address or CIDR. */
  static of(texts: readonly string[]): NodeSources {
    return new NodeSources(
      texts.map((t) => {
        const e = parseSourceEntry(t);
        if (!e) throw new Error(`${t}: expected an IP address or a CIDR such as 10.0.0.0/8 or fd00::/8`);
        return e;
      }),
    );
  }

  /** True when `address` (as a socket reports it) is one of the allowed sources. */
  allows(address: string): boolean {
    const a = unmapped(address);
    const v = isIP(a);
    if (v === 0) return false;
    return this.list.check(a, v === 6 ? 'ipv6' : 'ipv4');
  }

  toString(): string {
    return this.entries.map((e) => (e.prefix === undefined ? e.address : `${e.address}/${e.prefix}`)).join(', ');
  }
}

const WILDCARDS: ReadonlySet<string> = new Set(['0.0.0.0', '::', '[::]']);

/** Two bind addresses overlap when equal or when either is a wildcard. */
function overlaps(a: string, b: string): boolean {
  return a === b || WILDCARDS.has(a) || WILDCARDS.has(b);
}

/** What start-up needs of the configuration to tell whether the node side is open to clients. */
export interface NodeSideLayout {
  readonly externalHost: string;
  readonly internalHost: string;
  readonly ipv6Host?: string;
  readonly registry: { readonly heartbeatPort?: number; readonly heartbeatHost: string; readonly nodeAllowedSources: readonly string[] };
  readonly sip: { readonly singleEntryMode: boolean; readonly internal: object; readonly internalIpv6: object };
}

/**
 * The start-up warning for a node side that listens where clients reach it (the heartbeat port, or the internal
 * SIP ports, on an external address) with no nodeAllowedSources; undefined when there is nothing to warn of.
 */
export function nodeSideExposure(c: NodeSideLayout): string | undefined {
  if (c.registry.nodeAllowedSources.length > 0) return undefined;
  const exposed: string[] = [];
  const ext = [c.externalHost, ...(c.ipv6Host ? [c.ipv6Host] : [])];
  if (c.registry.heartbeatPort !== undefined && ext.some((h) => overlaps(h, c.registry.heartbeatHost))) exposed.push(`the heartbeat port ${c.registry.heartbeatPort}`);
  if (!c.sip.singleEntryMode && Object.keys(c.sip.internal).length > 0 && overlaps(c.internalHost, c.externalHost)) exposed.push('the internal SIP ports');
  if (!c.sip.singleEntryMode && c.ipv6Host && Object.keys(c.sip.internalIpv6).length > 0) exposed.push(`the internal SIP ports on ${c.ipv6Host}`);
  if (exposed.length === 0) return undefined;
  return (
    `${exposed.join(' and ')} listen on an address of the external side (${c.externalHost}${c.ipv6Host ? `, ${c.ipv6Host}` : ''}) and nodeAllowedSources is not set: ` +
    'anyone who reaches them can register a node and take new calls. Set internalHost to a private address, set nodeAllowedSources to your nodes\' addresses, or firewall these ports'
  );
}
