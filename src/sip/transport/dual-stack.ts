// IPv6 beside IPv4 (ipv6Host): one listening point per side and transport for the forwarder, made of an IPv4
// and an IPv6 one; sends go out of the one of the destination's family. Also: an IPv6 client's new call
// goes to a node of its own family first.

import type { SipTransport } from '../../config/types.js';
import type { ServerNode } from '../../registry/server-node.js';
import type { NodeRegistry } from '../../registry/node-registry.js';
import type { AlgorithmSipRequest, BalancerAlgorithm } from '../../algorithms/algorithm.js';
import { fnv1a } from '../../algorithms/hash.js';
import type { ListeningPoint, Side } from './transport.js';

export type Family = 4 | 6;

/** The address family of a host (a name counts as IPv4: the forwarder resolves names with lookup()). */
export function familyOf(host: string): Family {
  // Hot path: an IPv6 literal always has a colon, an IPv4 literal or host name never (no regex here).
  return host.includes(':') ? 6 : 4;
}

export class DualStackListeningPoint implements ListeningPoint {
  readonly transport: SipTransport;
  readonly side: Side;
  readonly host: string;

  constructor(
    readonly v4: ListeningPoint,
    readonly v6: ListeningPoint,
  ) {
    this.transport = v4.transport;
    this.side = v4.side;
    this.host = v4.host;
  }

  /** The IPv4 port (the bound one once started). */
  get port(): number {
    return this.v4.port;
  }

  /** The IPv6 address and port, for the forwarder's Via and Record-Route towards IPv6 peers. */
  get ipv6(): { host: string; port: number } {
    return { host: this.v6.host, port: this.v6.port };
  }

  async start(): Promise<void> {
    await this.v4.start();
    try {
      await this.v6.start();
    } catch (err) {
      await this.v4.stop();
      // Start-up reports the point by its IPv4 address: name the IPv6 one that failed.
      const e = err as NodeJS.ErrnoException;
      const why = `${e.code ?? e.message} on the IPv6 address [${this.v6.host}]:${this.v6.port}`;
      throw Object.assign(new Error(why), { code: why });
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.v4.stop(), this.v6.stop()]);
  }

  sendTo(data: Buffer, host: string, port: number, onError?: (err: Error) => void): void {
    (familyOf(host) === 6 ? this.v6 : this.v4).sendTo(data, host, port, onError);
  }

  hasConnection(host: string, port: number): boolean {
    const p = familyOf(host) === 6 ? this.v6 : this.v4;
    return p.hasConnection?.(host, port) ?? false;
  }

  watchPeer(host: string, port: number): void {
    (familyOf(host) === 6 ? this.v6 : this.v4).watchPeer?.(host, port);
  }

  unwatchPeer(host: string, port: number): void {
    (familyOf(host) === 6 ? this.v6 : this.v4).unwatchPeer?.(host, port);
  }

  toString(): string {
    return `${String(this.v4)} + ${String(this.v6)}`;
  }
}

/**
 * Pairs the IPv4 points with the IPv6 points of the same side and transport; IPv6 points without an IPv4
 * twin stay alone (their Via and Record-Route then use ipv6Host).
 */
export function pairByFamily(v4: readonly ListeningPoint[], v6: readonly ListeningPoint[]): ListeningPoint[] {
  const out: ListeningPoint[] = [];
  const used = new Set<ListeningPoint>();
  for (const p of v4) {
    const twin = v6.find((q) => q.side === p.side && q.transport === p.transport);
    if (twin) {
      used.add(twin);
      out.push(new DualStackListeningPoint(p, twin));
    } else out.push(p);
  }
  for (const q of v6) if (!used.has(q)) out.push(q);
  return out;
}

/**
 * A new request's node, of the client's address family when one is active: the algorithm's pick when it
 * already is, else one of that family chosen by Call-ID (so CANCEL and retransmissions agree), which the
 * algorithm is then told about (assignToNode) for its affinity.
 */
export function preferClientFamily(
  picked: ServerNode | undefined,
  clientAddress: string,
  registry: NodeRegistry,
  algorithm: BalancerAlgorithm,
  req: AlgorithmSipRequest,
): ServerNode | undefined {
  if (!picked) return picked;
  const family = familyOf(clientAddress);
  if (familyOf(picked.ip) === family) return picked;
  const same = registry.live().filter((n) => n.acceptsNewWork && n.version === picked.version && familyOf(n.ip) === family);
  if (same.length === 0) return picked;
  const chosen = same[fnv1a(req.callId) % same.length]!;
  algorithm.assignToNode?.(req, chosen);
  return chosen;
}
