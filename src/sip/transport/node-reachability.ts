// Fast failover (issue 16, item 4): what the network says about a node, acted on at once. A node whose UDP
// port answers with ICMP port unreachable (seen on a socket connected to it), or whose TCP port refuses or
// resets a connection the balancer opened, is marked bad through node health, so every algorithm skips it for
// new calls and its dialogs fail over on their next request; the health quarantine brings it back if it still
// heartbeats. Without such a signal (a host that vanished), nodeTimeout and the health rules still apply.

import type { NodeRegistry } from '../../registry/node-registry.js';
import type { ServerNode } from '../../registry/server-node.js';
import type { SipStats } from '../sip-stats.js';
import type { SipTransport } from '../../config/types.js';
import type { ListeningPoint } from './transport.js';

export interface NodeReachabilityOptions {
  readonly registry: NodeRegistry;
  /** The UDP points that send to nodes: each keeps a connected socket per node. */
  readonly udpPoints: readonly ListeningPoint[];
  /** Marks a node bad for `reason` (node health's markBadNow); false when it was bad already. */
  readonly markBad: (node: ServerNode, reason: string) => boolean;
  readonly stats: SipStats;
}

export class NodeReachability {
  private readonly opts: NodeReachabilityOptions;
  private readonly onAdded = (node: ServerNode): void => this.watch(node, true);
  private readonly onRemoved = (node: ServerNode): void => this.watch(node, false);

  constructor(opts: NodeReachabilityOptions) {
    this.opts = opts;
  }

  start(): void {
    this.opts.registry.on('added', this.onAdded);
    this.opts.registry.on('removed', this.onRemoved);
    for (const node of this.opts.registry.all()) this.watch(node, true);
  }

  stop(): void {
    this.opts.registry.off('added', this.onAdded);
    this.opts.registry.off('removed', this.onRemoved);
    for (const node of this.opts.registry.all()) this.watch(node, false);
  }

  /** The network says host:port is gone; a registered node there leaves the rotation now. */
  readonly peerUnreachable = (host: string, port: number, transport: SipTransport, why: string): void => {
    const node = this.opts.registry.findByAddress(host, port);
    if (!node || node.ports[transport] !== port) return;
    if (this.opts.markBad(node, `${why} from ${host}:${port}`)) this.opts.stats.nodesUnreachable++;
  };

  private watch(node: ServerNode, on: boolean): void {
    const port = node.ports.udp;
    if (port === undefined) return;
    for (const p of this.opts.udpPoints) {
      if (on) p.watchPeer?.(node.ip, port);
      else p.unwatchPeer?.(node.ip, port);
    }
  }
}
