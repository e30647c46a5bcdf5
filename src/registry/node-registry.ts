// The live application servers: registered and refreshed by heartbeats (JSON, SIP), removed when silent
// for nodeTimeout. One sweep timer for all nodes; events for everything that changes.

import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import { guardedInterval } from '../timers.js';
import type { HostPort, RegistryConfig } from '../config/types.js';
import { ServerNode, type NodeState, type ServerNodeInit } from './server-node.js';

export interface NodeRegistryEvents {
  added: [node: ServerNode];
  removed: [node: ServerNode, reason: string];
  'state-changed': [node: ServerNode, previous: NodeState];
  /** Any change of the live set or of a node's state; carries the live nodes. */
  changed: [live: readonly ServerNode[]];
}

export interface RegistryOptions extends Pick<RegistryConfig, 'nodeTimeoutMs' | 'heartbeatIntervalMs'> {
  /** Entries known as nodes for direction analysis. */
  readonly extraServerNodes?: readonly HostPort[];
  /** Also register extraServerNodes as never-expiring nodes. */
  readonly performanceTestingMode?: boolean;
  readonly now?: () => number;
}

/** Numeric comparison of versions ("10" > "9"); non-numeric ones compare as text after numeric ones. */
export function compareVersions(a: string, b: string): number {
  const na = Number(a);
  const nb = Number(b);
  const aNum = a !== '' && Number.isFinite(na);
  const bNum = b !== '' && Number.isFinite(nb);
  if (aNum && bNum) return na - nb;
  if (aNum !== bNum) return aNum ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export class NodeRegistry extends EventEmitter<NodeRegistryEvents> {
  protected readonly nodes = new Map<string, ServerNode>();
  private opts: RegistryOptions;
  private readonly log: Logger;
  private readonly now: () => number;
  private sweepTimer: NodeJS.Timeout | undefined;
  private liveCache: readonly ServerNode[] | undefined;
  private latest = '0';
  private extraHosts: ReadonlySet<string>;
  private extraIps: ReadonlySet<string>;

  constructor(opts: RegistryOptions, log: Logger) {
    super();
    this.opts = opts;
    this.log = log;
    this.now = opts.now ?? Date.now;
    this.extraHosts = new Set((opts.extraServerNodes ?? []).map((e) => `${e.host}:${e.port}`));
    this.extraIps = new Set((opts.extraServerNodes ?? []).map((e) => e.host));
  }

  start(): void {
    this.log.info(`nodeTimeout=${this.opts.nodeTimeoutMs}`);
    this.log.info(`heartbeatInterval=${this.opts.heartbeatIntervalMs}`);
    this.log.info('Node registry starting...');
    this.registerExtraNodes();
    this.startSweep();
    this.log.info('Node expiration task created');
    this.log.info('Node registry started');
  }

  /**
   * Applies new timers and extraServerNodes (hot reload): the expiry sweep follows the new heartbeatInterval,
   * and with performanceTestingMode the extra nodes no longer listed leave while new ones join.
   */
  reconfigure(next: Pick<RegistryOptions, 'nodeTimeoutMs' | 'heartbeatIntervalMs' | 'extraServerNodes'>): void {
    const previous = this.opts;
    this.opts = { ...previous, ...next };
    this.extraHosts = new Set((next.extraServerNodes ?? []).map((e) => `${e.host}:${e.port}`));
    this.extraIps = new Set((next.extraServerNodes ?? []).map((e) => e.host));
    if (this.sweepTimer !== undefined && previous.heartbeatIntervalMs !== next.heartbeatIntervalMs) {
      clearInterval(this.sweepTimer);
      this.startSweep();
    }
    if (this.opts.performanceTestingMode) {
      for (const node of this.all()) {
        if (node.permanent && !this.extraHosts.has(`${node.ip}:${node.ports.udp}`)) this.remove(node, 'removed from extraServerNodes');
      }
      this.registerExtraNodes();
    }
  }

  /** With performanceTestingMode, extraServerNodes are nodes that never expire. */
  private registerExtraNodes(): void {
    if (!this.opts.performanceTestingMode) return;
    for (const extra of this.opts.extraServerNodes ?? []) {
      if (this.findByAddress(extra.host, extra.port)?.permanent) continue;
      this.register({
        ip: extra.host,
        hostname: `ExtraServerNode-${extra.host}:${extra.port}`,
        ports: { udp: extra.port, tcp: extra.port },
        version: '0',
        permanent: true,
      });
    }
  }

  private startSweep(): void {
    // A timer catches at its boundary: a listener that throws (an algorithm rebuilding) must not reach the
    // process-wide handler, nor log a stack trace every sweep.
    this.sweepTimer = guardedInterval('Node expiry sweep', this.opts.heartbeatIntervalMs, () => this.sweep(), this.log);
  }

  stop(): void {
    this.log.info('Stopping node registry...');
    const wasRunning = this.sweepTimer !== undefined;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.log.info(`Node Expiration Task cancelled ${wasRunning}`);
    this.log.info('Node registry stopped.');
  }

  /**
   * Adds a node, or refreshes the one with the same identity. A known node that is bad comes back as
   * active when it registers with a new sessionId (the original's rule); `start` always resets it.
   */
  register(init: ServerNodeInit, opts: { reset?: boolean } = {}): ServerNode {
    const now = this.now();
    const id = ServerNode.idOf(init);
    const existing = this.nodes.get(id) ?? this.findSameAddress(init);
    if (existing) {
      const previous = existing.state;
      const newSession = init.sessionId !== undefined && init.sessionId !== existing.sessionId;
      existing.lastSeen = now;
      this.updateFields(existing, init);
      if (existing.id !== id) {
        // Same address, new identity (a restarted node): re-key it.
        this.nodes.delete(existing.id);
        const replacement = new ServerNode(init, now);
        this.nodes.set(replacement.id, replacement);
        this.log.info({ node: replacement.toJSON(now) }, `NodeExpirationTimerTask Run NSync[${replacement}] replaced ${existing} (new session)`);
        this.emit('removed', existing, 'replaced by a new session');
        this.emit('added', replacement);
        this.afterChange();
        return replacement;
      }
      if (previous === 'bad' && (newSession || opts.reset)) {
        this.setState(existing, 'active', 're-registered');
      }
      return existing;
    }
    const node = new ServerNode(init, now);
    this.nodes.set(node.id, node);
    this.log.info({ node: node.toJSON(now) }, `NodeExpirationTimerTask Run NSync[${node}] added`);
    this.emit('added', node);
    this.afterChange();
    return node;
  }

  /** Refreshes a node's timestamp by identity (JSON heartbeat). Returns undefined for an unknown id. */
  touch(id: string): ServerNode | undefined {
    const node = this.nodes.get(id);
    if (node) node.lastSeen = this.now();
    return node;
  }

  /** Refreshes the node at ip:port (any traffic from a node counts as a sign of life). */
  touchAddress(ip: string, port: number): void {
    const node = this.findByAddress(ip, port);
    if (node) node.lastSeen = this.now();
  }

  setState(node: ServerNode, state: NodeState, reason: string): void {
    if (node.state === state || !this.nodes.has(node.id)) return;
    const previous = node.state;
    node.state = state;
    node.badReason = state === 'bad' ? reason : undefined;
    const msg = `Node ${node} is now ${state} (was ${previous}): ${reason}`;
    if (state === 'active') this.log.info(msg);
    else this.log.warn(msg);
    this.emit('state-changed', node, previous);
    this.afterChange();
  }

  remove(node: ServerNode, reason: string): void {
    if (this.nodes.get(node.id) !== node) return;
    this.nodes.delete(node.id);
    this.log.warn({ node: node.id, reason }, `Node ${node} removed: ${reason}`);
    this.emit('removed', node, reason);
    this.afterChange();
  }

  get(id: string): ServerNode | undefined {
    return this.nodes.get(id);
  }

  /** Every node, in every state and version. */
  all(): readonly ServerNode[] {
    if (!this.liveCache) this.liveCache = [...this.nodes.values()];
    return this.liveCache;
  }

  /** Nodes of one version (default: the latest), in every state. */
  live(version: string = this.latest): readonly ServerNode[] {
    return this.all().filter((n) => n.version === version);
  }

  get latestVersion(): string {
    return this.latest;
  }

  get size(): number {
    return this.nodes.size;
  }

  /** The node at ip with any of its ports equal to `port`. */
  findByAddress(ip: string, port: number): ServerNode | undefined {
    for (const node of this.all()) if (node.ip === ip && node.hasPort(port)) return node;
    return undefined;
  }

  /** The node with ip whose port for `transport` is `port` (the Record-Route node_host/node_port hint). */
  findByHint(ip: string, port: number, transport: keyof ServerNode['ports'], version?: string): ServerNode | undefined {
    for (const node of this.all()) {
      if (node.ip === ip && node.ports[transport] === port && (version === undefined || node.version === version)) return node;
    }
    return this.findByAddress(ip, port);
  }

  findByJvmRoute(jvmRoute: string): ServerNode | undefined {
    for (const node of this.all()) if (node.jvmRoute === jvmRoute) return node;
    return undefined;
  }

  /** True when host:port is a live node or an extraServerNodes entry (direction analysis). */
  isServerAddress(host: string, port: number): boolean {
    return this.findByAddress(host, port) !== undefined || this.extraHosts.has(`${host}:${port}`);
  }

  /** True when `ip` is the address of a live node or of an extraServerNodes entry (whatever the port). */
  hasNodeAddress(ip: string): boolean {
    for (const node of this.all()) if (node.ip === ip) return true;
    return this.extraIps.has(ip);
  }

  /** Removes nodes silent for longer than nodeTimeout. Called by the sweep timer; public for tests. */
  sweep(): void {
    const deadline = this.now() - this.opts.nodeTimeoutMs;
    for (const node of this.all()) {
      if (!node.permanent && node.lastSeen < deadline) {
        this.remove(node, `no heartbeat for ${this.now() - node.lastSeen} ms (nodeTimeout ${this.opts.nodeTimeoutMs})`);
      }
    }
  }

  private findSameAddress(init: ServerNodeInit): ServerNode | undefined {
    // A node that restarts comes back with a new sessionId at the same address and ports.
    const p = init.ports ?? {};
    for (const node of this.nodes.values()) {
      if (
        node.ip === init.ip &&
        node.ports.udp === p.udp && node.ports.tcp === p.tcp && node.ports.tls === p.tls &&
        node.ports.ws === p.ws && node.ports.wss === p.wss && node.httpPort === init.httpPort &&
        node.smppPort === init.smppPort
      ) {
        return node;
      }
    }
    return undefined;
  }

  private updateFields(node: ServerNode, init: ServerNodeInit): void {
    if (init.hostname !== undefined) node.hostname = init.hostname;
    if (init.jvmRoute !== undefined) node.jvmRoute = init.jvmRoute;
    if (init.properties) node.properties = { ...init.properties };
  }

  protected afterChange(): void {
    this.liveCache = undefined;
    let latest = '0';
    for (const node of this.nodes.values()) if (compareVersions(node.version, latest) > 0) latest = node.version;
    this.latest = latest;
    this.emit('changed', this.all());
  }
}
