// How the workers of `workers=N` share a listening port. 'cluster': the primary binds it and every worker
// uses that one socket (UDP: all read the same socket; TCP: the primary accepts and hands each connection to
// a worker in turn). 'reuseport': each worker binds its own socket with SO_REUSEPORT and the kernel spreads
// datagrams and connections by a hash of the peer's address and port (Node ≥ 22.12 on Linux).

import type { ListenOptions } from 'node:net';
import type { BindOptions, SocketOptions } from 'node:dgram';

export type PortSharing = 'cluster' | 'reuseport';

/** The environment variable through which the primary tells its workers how to share ports. */
export const PORT_SHARING_ENV = 'SIPBALANCER_PORT_SHARING';

/** True when this runtime has `reusePort` for net and dgram (Node 22.12+ and 23.1+, Linux). */
export function runtimeHasReusePort(version: string = process.versions.node, platform: string = process.platform): boolean {
  if (platform !== 'linux') return false;
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

/** This process's way: 'reuseport' only in a worker the primary told so. */
export function portSharing(): PortSharing {
  return process.env[PORT_SHARING_ENV] === 'reuseport' ? 'reuseport' : 'cluster';
}

/** Options for net's server.listen: the port and host, with SO_REUSEPORT in a 'reuseport' worker. */
export function listenOptions(port: number, host: string): ListenOptions {
  return portSharing() === 'reuseport' ? ({ port, host, exclusive: true, reusePort: true } as ListenOptions) : { port, host };
}

/** Extra options for dgram.createSocket (SO_REUSEPORT in a 'reuseport' worker). */
export function udpSocketOptions(): Partial<SocketOptions> {
  return portSharing() === 'reuseport' ? ({ reusePort: true } as Partial<SocketOptions>) : {};
}

/** Options for a UDP socket's bind: its own socket in a 'reuseport' worker, else the cluster's shared one. */
export function udpBindOptions(port: number, address: string): BindOptions {
  return { port, address, exclusive: portSharing() === 'reuseport' };
}

/**
 * The way the primary tells its workers to use: the key's choice where the runtime allows it. `auto` is
 * 'cluster' (see the README, Workers: measured, and it spreads one busy peer over every worker).
 */
export function resolvePortSharing(wanted: 'auto' | PortSharing, hasReusePort: boolean = runtimeHasReusePort()): { sharing: PortSharing; note?: string } {
  if (wanted === 'reuseport' && !hasReusePort) {
    return { sharing: 'cluster', note: `workersPortSharing=reuseport needs Node 22.12 or later on Linux (this is Node ${process.versions.node} on ${process.platform}): the workers share the cluster's sockets` };
  }
  return { sharing: wanted === 'reuseport' ? 'reuseport' : 'cluster' };
}
