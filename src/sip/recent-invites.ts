// The stateless forwarder's only memory of calls: which node each recent initial INVITE went to.

import type { NodeRegistry } from '../registry/node-registry.js';
import type { ServerNode } from '../registry/server-node.js';

/**
 * Call-ID → node of the initial INVITEs of the last 32 to 64 seconds (RFC 3261 Timer B), kept in two
 * generations swapped on use (no timer, no per-entry clean-up): a stateless proxy's only memory, so that
 * retransmissions, CANCEL and non-2xx ACK reach the INVITE's node under any algorithm.
 */
export class RecentInvites {
  private current = new Map<string, ServerNode>();
  private previous = new Map<string, ServerNode>();
  private rotatedAt: number;

  constructor(
    private readonly generationMs = 32_000,
    private readonly now: () => number = Date.now,
  ) {
    this.rotatedAt = now();
  }

  set(callId: string, node: ServerNode): void {
    const t = this.now();
    if (t - this.rotatedAt >= this.generationMs) {
      this.previous = t - this.rotatedAt >= 2 * this.generationMs ? new Map() : this.current;
      this.current = new Map();
      this.rotatedAt = t;
    }
    this.current.set(callId, node);
  }

  /** The INVITE's node while it is still registered and not bad. */
  get(callId: string, registry: NodeRegistry): ServerNode | undefined {
    const node = this.current.get(callId) ?? this.previous.get(callId);
    return node && node.state !== 'bad' && registry.get(node.id) === node ? node : undefined;
  }
}
