// Stickiness for JSESSIONIDs without a jvmRoute (plain servlet containers, manual: "it will use the session ID
// as a hash value"): the session a node created is remembered from its Set-Cookie (bounded, no timer), and any
// other session id is placed on a consistent-hash ring of the active HTTP nodes, so that a node joining
// moves few sessions and every balancer instance with the same nodes agrees.

import { HashRing } from '../algorithms/hash-ring.js';
import type { ServerNode } from '../registry/server-node.js';

/** Learned sessions per generation; two generations, so at most twice this many ids are held. */
export const LEARNED_SESSIONS_PER_GENERATION = 32_768;
/** Virtual nodes per HTTP node: fewer than the SIP rings (HTTP node counts are small; a rebuild stays cheap). */
const VIRTUAL_NODES = 512;

/** Where a node sits on the session ring: its address and HTTP port, the same on every balancer instance. */
export function sessionRingKey(node: ServerNode): string {
  return `${node.ip}:${node.httpPort ?? node.properties.httpPort ?? ''}`;
}

export class SessionAffinity {
  private readonly ring = new HashRing<ServerNode>(sessionRingKey, VIRTUAL_NODES);
  /** Session id → node id, learned from the nodes' Set-Cookie; two generations swapped when one fills. */
  private current = new Map<string, string>();
  private previous = new Map<string, string>();

  /** Rebuilds the ring from the nodes that take new sessions (never per request). */
  update(active: readonly ServerNode[]): void {
    this.ring.build(active);
  }

  /** Remembers that `node` created session `id` (a Set-Cookie without a jvmRoute). */
  learn(id: string, node: ServerNode): void {
    if (this.current.get(id) === node.id) return;
    if (this.current.size >= LEARNED_SESSIONS_PER_GENERATION) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(id, node.id);
  }

  /** The node id that created the session, if it is still remembered. */
  learnedNodeId(id: string): string | undefined {
    return this.current.get(id) ?? this.previous.get(id);
  }

  /** The ring's node for a session id, or undefined when there is no active node. */
  hashed(id: string): ServerNode | undefined {
    return this.ring.lookup(id);
  }

  /** Sessions remembered, for tests and diagnostics. */
  get learnedCount(): number {
    return this.current.size + this.previous.size;
  }
}
