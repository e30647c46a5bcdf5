// The stateless forwarder's only memory of calls: which node each recent initial INVITE went to.

import type { NodeRegistry } from '../registry/node-registry.js';
import type { ServerNode } from '../registry/server-node.js';

/** Call-IDs one generation holds at most: two generations of 50,000 ≈ 1,500 calls/s for the full 32 s. */
export const RECENT_INVITES_PER_GENERATION = 50_000;

/**
 * Call-ID → node of the initial INVITEs of the last 32 to 64 seconds (RFC 3261 Timer B), kept in two
 * generations swapped on use (no timer, no per-entry clean-up): a stateless proxy's only memory, so that
 * retransmissions, CANCEL and non-2xx ACK reach the INVITE's node under any algorithm. Bounded: a generation
 * that fills up is swapped early, and the entries of the oldest generation that had not yet served their
 * time are counted as evicted (such a call's retransmission is then placed by the algorithm, which under
 * call-id-affinity still finds its node).
 */
export class RecentInvites {
  private current = new Map<string, ServerNode>();
  private previous = new Map<string, ServerNode>();
  private rotatedAt: number;
  /** Entries dropped before their time because a generation was full. */
  evicted = 0;

  constructor(
    private readonly generationMs = 32_000,
    private readonly now: () => number = Date.now,
    private readonly maxPerGeneration = RECENT_INVITES_PER_GENERATION,
  ) {
    this.rotatedAt = now();
  }

  /** Call-IDs remembered now (both generations). */
  get size(): number {
    return this.current.size + this.previous.size;
  }

  set(callId: string, node: ServerNode): void {
    const t = this.now();
    if (t - this.rotatedAt >= this.generationMs) {
      this.previous = t - this.rotatedAt >= 2 * this.generationMs ? new Map() : this.current;
      this.current = new Map();
      this.rotatedAt = t;
    } else if (this.current.size >= this.maxPerGeneration && !this.current.has(callId)) {
      this.evicted += this.previous.size;
      this.previous = this.current;
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
