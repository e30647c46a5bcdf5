// What the balancer knows of its own addresses: what it advertises in Via and Record-Route per side and
// transport (IPv4 and IPv6), and whether a host:port is itself (Route popping, loop detection).

import type { Config, SipTransport } from '../config/types.js';
import { bareHost, defaultPort } from './uri.js';
import type { Side } from './transport/transport.js';
import { familyOf } from './transport/dual-stack.js';

/** An address the balancer advertises on one side for one transport (in Via and Record-Route). */
export interface Advertised {
  readonly host: string;
  readonly port: number;
}

/**
 * What the balancer knows of its own addresses: what to put in Via and Record-Route per side and
 * transport, and whether a host:port is the balancer itself (Route popping, loop detection).
 */
export class LocalAddresses {
  /** The balancer's own addresses: host → ports (a Map of Sets, so a lookup builds no string). */
  private readonly ownPorts = new Map<string, Set<number>>();
  // Per side and transport (IPv4, and IPv6 where dual-stack): looked up per message without building keys.
  private readonly via = bySideTransport<Advertised>();
  private readonly rr = bySideTransport<Advertised>();
  private readonly via6 = bySideTransport<Advertised>();
  private readonly rr6 = bySideTransport<Advertised>();

  private readonly routeHostname: string | undefined;
  private readonly filterSubdomain: boolean;

  constructor(config: Config, points: readonly { side: Side; transport: SipTransport; port: number; ipv6?: Advertised }[]) {
    const sip = config.sip;
    this.routeHostname = sip.matchingHostnameForRoute?.toLowerCase();
    this.filterSubdomain = sip.isFilterSubdomain;
    const hosts = new Set([config.externalHost, config.internalHost, config.host]);
    if (config.ipv6Host) hosts.add(config.ipv6Host);
    if (sip.publicIp) hosts.add(sip.publicIp);
    if (sip.publicIpv6) hosts.add(sip.publicIpv6);
    if (sip.externalIpLoadBalancer) hosts.add(sip.externalIpLoadBalancer.address);
    if (sip.internalIpLoadBalancer) hosts.add(sip.internalIpLoadBalancer.address);
    const ports = new Set<number>();
    for (const p of points) ports.add(p.port);
    for (const lb of [sip.externalIpLoadBalancer, sip.internalIpLoadBalancer]) {
      if (lb) for (const p of Object.values(lb.ports)) if (p !== undefined) ports.add(p);
    }
    for (const h of hosts) for (const p of ports) this.addOwn(h, p);
    for (const p of points) {
      const host = p.side === 'external' ? config.externalHost : config.internalHost;
      const lb = p.side === 'external' ? sip.externalIpLoadBalancer : sip.internalIpLoadBalancer;
      const lbPort = lb?.ports[p.transport];
      const advertised: Advertised = lb ? { host: lb.address, port: lbPort ?? p.port } : { host, port: p.port };
      // Behind 1:1 NAT (publicIp) clients reach the balancer at the public address: its external Record-Route
      // names that (an IP load balancer in front, when configured, is what clients reach instead).
      const publicRR = p.side === 'external' && !lb && sip.publicIp !== undefined ? { host: sip.publicIp, port: p.port } : undefined;
      this.rr[p.side][p.transport] = publicRR ?? advertised;
      this.via[p.side][p.transport] = sip.useIpLoadBalancerAddressInViaHeaders ? advertised : { host, port: p.port };
      // Dual-stack points: IPv6 peers get the ipv6Host address (IP load balancers are IPv4 here).
      if (p.ipv6) {
        this.addOwn(p.ipv6.host, p.ipv6.port);
        this.rr6[p.side][p.transport] = p.side === 'external' && sip.publicIpv6 !== undefined ? { host: sip.publicIpv6, port: p.ipv6.port } : p.ipv6;
        this.via6[p.side][p.transport] = p.ipv6;
      }
    }
  }

  /**
   * True when a Route host is `matchingHostnameForRoute` (or, with isFilterSubdomain, a subdomain of it):
   * such a Route names this balancer by a name of its own and is popped like the balancer's own Routes.
   */
  matchesRouteHostname(host: string): boolean {
    const name = this.routeHostname;
    if (name === undefined) return false;
    const h = host.toLowerCase();
    return h === name || (this.filterSubdomain && h.endsWith(`.${name}`));
  }

  private addOwn(host: string, port: number): void {
    const h = bareHost(host);
    let ports = this.ownPorts.get(h);
    if (!ports) this.ownPorts.set(h, (ports = new Set()));
    ports.add(port);
  }

  /** True when host:port (no port: the transport's default, 5061 for TLS) is one of the balancer's addresses. */
  isLocal(host: string, port: number | undefined, transport: string = 'udp'): boolean {
    const ports = this.ownPorts.get(host) ?? (host.charCodeAt(0) === 91 ? this.ownPorts.get(bareHost(host)) : undefined);
    return ports !== undefined && ports.has(port ?? defaultPort(transport));
  }

  /** `peer`: the address on the other end of that leg; an IPv6 peer gets the IPv6 address when there is one. */
  viaAddress(side: Side, transport: SipTransport, peer?: string): Advertised | undefined {
    return (peer !== undefined && familyOf(peer) === 6 ? this.via6[side][transport] : undefined) ?? this.via[side][transport];
  }

  recordRouteAddress(side: Side, transport: SipTransport, peer?: string): Advertised | undefined {
    return (peer !== undefined && familyOf(peer) === 6 ? this.rr6[side][transport] : undefined) ?? this.rr[side][transport];
  }
}

/** A value per side and transport, read with two property loads instead of a built string key. */
export type BySideTransport<T> = Record<Side, Partial<Record<SipTransport, T>>>;

export function bySideTransport<T>(): BySideTransport<T> {
  return { external: {}, internal: {} };
}
