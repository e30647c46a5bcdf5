// One node registry for all workers: the primary owns it and sends every worker a snapshot of the nodes on
// each change; a worker keeps a replica that applies those snapshots and relays its own changes (SIP
// heartbeats, health-from-traffic marks, signs of life) to the primary, which applies them and broadcasts.

import type { Logger } from '../log.js';
import { NodeRegistry, type RegistryOptions } from '../registry/node-registry.js';
import { ServerNode, type NodeState, type ServerNodeInit } from '../registry/server-node.js';

/** One node as the primary sends it: its registration, state and last sign of life. */
export interface NodeRecord {
  readonly init: ServerNodeInit;
  readonly state: NodeState;
  readonly badReason?: string;
  readonly lastSeen: number;
  readonly registeredAt: number;
}

/** Every node of the primary's registry, and the last change of the receiving worker it has applied. */
export interface RegistrySnapshot {
  readonly nodes: readonly NodeRecord[];
  /** The sequence number of the receiving worker's last relayed change the snapshot includes. */
  readonly ack: number;
}

/** A change a worker relays to the primary (seq orders them; touches carry none, they change no state). */
export type RegistryOp =
  | { readonly op: 'register'; readonly seq: number; readonly init: ServerNodeInit; readonly reset?: boolean }
  | { readonly op: 'state'; readonly seq: number; readonly id: string; readonly state: NodeState; readonly reason: string }
  | { readonly op: 'remove'; readonly seq: number; readonly id: string; readonly reason: string }
  | { readonly op: 'touch'; readonly id: string };

export function recordOf(node: ServerNode): NodeRecord {
  return {
    init: {
      ip: node.ip,
      hostname: node.hostname,
      ports: node.ports,
      httpPort: node.httpPort,
      sslPort: node.sslPort,
      smppPort: node.smppPort,
      version: node.version,
      sessionId: node.sessionId,
      jvmRoute: node.jvmRoute,
      properties: node.properties,
      permanent: node.permanent || undefined,
    },
    state: node.state,
    badReason: node.badReason,
    lastSeen: node.lastSeen,
    registeredAt: node.registeredAt,
  };
}

/** Applies a worker's relayed change to the primary's registry. Returns the seq it carried, if any. */
export function applyOp(registry: NodeRegistry, op: RegistryOp): number | undefined {
  switch (op.op) {
    case 'register':
      registry.register(op.init, { reset: op.reset });
      return op.seq;
    case 'state': {
      const node = registry.get(op.id);
      if (node) registry.setState(node, op.state, op.reason);
      return op.seq;
    }
    case 'remove': {
      const node = registry.get(op.id);
      if (node) registry.remove(node, op.reason);
      return op.seq;
    }
    case 'touch':
      registry.touch(op.id);
      return undefined;
  }
}

/**
 * A worker's registry: the same interface as the primary's, so the forwarder, the algorithm and the
 * health monitor need not know they run in a worker. Local changes apply at once (the worker answers the
 * heartbeat or routes the next message with them) and are relayed; snapshots from the primary win, but
 * one that predates a relayed change in flight is skipped (the next one includes it). Expiry is the
 * primary's: a worker has no sweep timer.
 */
export class ReplicaRegistry extends NodeRegistry {
  private seq = 0;
  /** When a sign of life of each node was last relayed (traffic counts; one relay per second is plenty). */
  private readonly touchRelayedAt = new Map<string, number>();
  private readonly touchRelayMs: number;
  private applying = false;

  constructor(
    opts: RegistryOptions,
    log: Logger,
    private readonly relay: (op: RegistryOp) => void,
  ) {
    super(opts, log);
    this.touchRelayMs = Math.min(1000, opts.nodeTimeoutMs / 4);
  }

  override start(): void {
    /* the primary expires nodes and registers the permanent ones */
  }

  override stop(): void {}

  override register(init: ServerNodeInit, opts: { reset?: boolean } = {}): ServerNode {
    const node = super.register(init, opts);
    if (!this.applying) this.relay({ op: 'register', seq: ++this.seq, init, reset: opts.reset });
    return node;
  }

  override setState(node: ServerNode, state: NodeState, reason: string): void {
    const changes = node.state !== state && this.nodes.has(node.id);
    super.setState(node, state, reason);
    if (changes && !this.applying) this.relay({ op: 'state', seq: ++this.seq, id: node.id, state, reason });
  }

  override remove(node: ServerNode, reason: string): void {
    const known = this.nodes.get(node.id) === node;
    super.remove(node, reason);
    if (known && !this.applying) this.relay({ op: 'remove', seq: ++this.seq, id: node.id, reason });
  }

  override touch(id: string): ServerNode | undefined {
    const node = super.touch(id);
    if (node) this.relayTouch(node);
    return node;
  }

  override touchAddress(ip: string, port: number): void {
    const node = this.findByAddress(ip, port);
    if (!node) return;
    node.lastSeen = Date.now();
    this.relayTouch(node);
  }

  /** Makes this replica equal to the primary's registry, with the events a local change would emit. */
  applySnapshot(snapshot: RegistrySnapshot): boolean {
    if (snapshot.ack < this.seq) return false;
    this.applying = true;
    try {
      const wanted = new Map(snapshot.nodes.map((r) => [ServerNode.idOf(r.init), r]));
      let changed = false;
      for (const node of [...this.nodes.values()]) {
        if (!wanted.has(node.id)) {
          // The primary has logged why; the replica follows quietly.
          this.nodes.delete(node.id);
          this.emit('removed', node, 'removed by the primary');
          this.touchRelayedAt.delete(node.id);
          changed = true;
        }
      }
      for (const [id, record] of wanted) {
        let node = this.nodes.get(id);
        if (!node) {
          node = new ServerNode(record.init, record.registeredAt);
          this.nodes.set(id, node);
          this.emit('added', node);
          changed = true;
        } else {
          node.hostname = record.init.hostname ?? node.hostname;
          node.jvmRoute = record.init.jvmRoute;
          node.properties = { ...record.init.properties };
        }
        node.lastSeen = Math.max(node.lastSeen, record.lastSeen);
        if (node.state !== record.state) {
          const previous = node.state;
          node.state = record.state;
          node.badReason = record.badReason;
          this.emit('state-changed', node, previous);
          changed = true;
        }
      }
      if (changed) this.afterChange();
      return true;
    } finally {
      this.applying = false;
    }
  }

  private relayTouch(node: ServerNode): void {
    const now = Date.now();
    if (now - (this.touchRelayedAt.get(node.id) ?? 0) < this.touchRelayMs) return;
    this.touchRelayedAt.set(node.id, now);
    this.relay({ op: 'touch', id: node.id });
  }
}
