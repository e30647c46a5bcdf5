// Which node takes an HTTP request or WebSocket upgrade, in the documented order: the Restcomm instance id
// in the URL, the jvmRoute of the session (from the node's heartbeat or learned from its Set-Cookie), a
// session id without jvmRoute (the node that created it, else its hash), the algorithm's
// pickForHttpRequest, then round robin over the active nodes that can take the request. What the nodes
// answer (Set-Cookie, requestCheckPattern) comes back through observeResponse(), for both HTTP paths.

import type { IncomingMessage } from 'node:http';
import type { BalancerAlgorithm } from '../algorithms/algorithm.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import type { ServerNode } from '../registry/server-node.js';
import { jvmRouteOfSessionId, requestedJvmRoute, requestedSessionId, restcommInstanceId, sessionIdFromSetCookie } from './session.js';
import { SessionAffinity } from './session-affinity.js';
import type { RequestCheck } from './request-check.js';

/** The port a request goes to on a node. */
export type BackendKind = 'http' | 'https' | 'ws' | 'wss';

export type ChoiceReason = 'instance-id' | 'jvm-route' | 'session' | 'algorithm' | 'round-robin';

export interface NodeChoice {
  readonly node: ServerNode;
  readonly port: number;
  readonly reason: ChoiceReason;
}

/** A port of `node` from its typed fields, or from the heartbeat's extra properties. */
function propertyPort(node: ServerNode, key: string): number | undefined {
  const raw = node.properties[key];
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  return Number.isInteger(port) && port > 0 && port < 65536 ? port : undefined;
}

/** The node's port for `kind`, or undefined when it has none. */
export function backendPort(node: ServerNode, kind: BackendKind): number | undefined {
  switch (kind) {
    case 'http':
      return node.httpPort ?? propertyPort(node, 'httpPort');
    case 'https':
      return node.sslPort ?? propertyPort(node, 'sslPort');
    case 'ws':
      return node.ports.ws ?? propertyPort(node, 'wsPort');
    case 'wss':
      return node.ports.wss ?? propertyPort(node, 'wssPort');
  }
}

export class HttpNodeChooser {
  private readonly registry: NodeRegistry;
  private readonly algorithm: BalancerAlgorithm;
  /** jvmRoute → node id, learned from the Set-Cookie of node responses. */
  private readonly learnedRoutes = new Map<string, string>();
  /** Live nodes of the latest version, rebuilt on registry changes (never per request). */
  private live: readonly ServerNode[] = [];
  private readonly roundRobin: Record<BackendKind, { nodes: ServerNode[]; next: number }> = {
    http: { nodes: [], next: 0 },
    https: { nodes: [], next: 0 },
    ws: { nodes: [], next: 0 },
    wss: { nodes: [], next: 0 },
  };
  private readonly onChanged = (): void => this.rebuild();
  /** Nodes that refused a connection: node id → until when (ms) they get no requests. */
  private readonly refused = new Map<string, number>();
  /** JSESSIONIDs without jvmRoute: learned from Set-Cookie, else hashed. */
  private readonly sessions = new SessionAffinity();
  private readonly requestCheck: RequestCheck | undefined;

  constructor(registry: NodeRegistry, algorithm: BalancerAlgorithm, opts: { requestCheck?: RequestCheck } = {}) {
    this.registry = registry;
    this.algorithm = algorithm;
    this.requestCheck = opts.requestCheck;
    registry.on('changed', this.onChanged);
    this.rebuild();
  }

  close(): void {
    this.registry.off('changed', this.onChanged);
  }

  private rebuild(): void {
    this.live = this.registry.live();
    for (const kind of ['http', 'https', 'ws', 'wss'] as const) {
      const rr = this.roundRobin[kind];
      rr.nodes = this.live
        .filter((n) => n.acceptsNewWork && backendPort(n, kind) !== undefined)
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      if (rr.next >= rr.nodes.length) rr.next = 0;
    }
    this.sessions.update(this.roundRobin.http.nodes);
    // Forget routes and refusals of nodes that left.
    for (const [route, id] of this.learnedRoutes) {
      if (this.registry.get(id) === undefined) this.learnedRoutes.delete(route);
    }
    for (const id of this.refused.keys()) if (this.registry.get(id) === undefined) this.refused.delete(id);
  }

  /**
   * A node refused a connection (it died before its heartbeats stopped counting): skip it for `forMs`,
   * so that the requests of the next seconds do not each pay a failed connection.
   */
  markRefused(node: ServerNode, forMs: number): void {
    this.refused.set(node.id, Date.now() + forMs);
  }

  private isRefused(node: ServerNode): boolean {
    if (this.refused.size === 0) return false;
    const until = this.refused.get(node.id);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.refused.delete(node.id);
    return false;
  }

  /**
   * What a node answered to a request for `url`, from either HTTP path: its Set-Cookie teaches the jvmRoute
   * or the session id it owns; requestCheckPattern may mark it bad.
   */
  observeResponse(node: ServerNode, url: string, status: number, setCookie: string | readonly string[] | undefined): void {
    if (setCookie !== undefined) {
      const id = sessionIdFromSetCookie(setCookie);
      if (id !== undefined) {
        const route = jvmRouteOfSessionId(id);
        if (route !== undefined) this.learnRoute(route, node);
        else this.sessions.learn(id, node);
      }
    }
    this.requestCheck?.onResponse(node, url, status);
  }

  /** The node of a session id without jvmRoute: the live node that created it, else the hash ring's. */
  nodeForSession(id: string): ServerNode | undefined {
    const learned = this.sessions.learnedNodeId(id);
    if (learned !== undefined) {
      const node = this.registry.get(learned);
      if (node !== undefined && this.live.includes(node)) return node;
    }
    return this.sessions.hashed(id);
  }

  /** Remembers that `route` belongs to `node` (from `Set-Cookie: JSESSIONID=<id>.<route>` of its response). */
  learnRoute(route: string, node: ServerNode): void {
    if (node.jvmRoute === route || this.learnedRoutes.get(route) === node.id) return;
    this.learnedRoutes.set(route, node.id);
  }

  /** The live node that owns a jvmRoute: announced in its heartbeat first, else learned. */
  nodeForRoute(route: string): ServerNode | undefined {
    for (const node of this.live) if (node.jvmRoute === route) return node;
    const id = this.learnedRoutes.get(route);
    if (id === undefined) return undefined;
    const node = this.registry.get(id);
    return node !== undefined && this.live.includes(node) ? node : undefined;
  }

  nodeForInstanceId(instanceId: string): ServerNode | undefined {
    for (const node of this.live) if (node.properties.restcommInstanceId === instanceId) return node;
    return undefined;
  }

  /**
   * Chooses the node for `req`. A node named by the session (instance id, jvmRoute) keeps the request
   * while it lives and is not bad (a graceful node finishes its sessions); new sessions go to active
   * nodes only. `exclude` is a node that just refused the connection. `cookie` may be given when the
   * caller has it already (so that Node does not build the request's headers object).
   */
  choose(req: IncomingMessage, kind: BackendKind, exclude?: ServerNode, cookie?: string | null): NodeChoice | undefined {
    const url = req.url ?? '/';
    const instanceId = url.length > 10 ? restcommInstanceId(url) : undefined;
    if (instanceId !== undefined) {
      const choice = this.sticky(this.nodeForInstanceId(instanceId), kind, exclude, 'instance-id');
      if (choice) return choice;
    }
    // `cookie` null means "known to be absent"; undefined means "read it from the request".
    const route = requestedJvmRoute(url, cookie === undefined ? req.headers.cookie : (cookie ?? undefined));
    if (route !== undefined) {
      const choice = this.sticky(this.nodeForRoute(route), kind, exclude, 'jvm-route');
      if (choice) return choice;
    } else {
      const id = requestedSessionId(url, cookie === undefined ? req.headers.cookie : (cookie ?? undefined));
      if (id !== undefined) {
        const choice = this.sticky(this.nodeForSession(id), kind, exclude, 'session');
        if (choice) return choice;
      }
    }
    if (exclude === undefined) {
      const picked = this.algorithm.pickForHttpRequest(req);
      if (picked !== undefined && picked.acceptsNewWork && !this.isRefused(picked)) {
        const port = backendPort(picked, kind);
        if (port !== undefined) return { node: picked, port, reason: 'algorithm' };
      }
    }
    return this.nextRoundRobin(kind, exclude);
  }

  private sticky(node: ServerNode | undefined, kind: BackendKind, exclude: ServerNode | undefined, reason: ChoiceReason): NodeChoice | undefined {
    if (node === undefined || node.state === 'bad' || node === exclude || this.isRefused(node)) return undefined;
    const port = backendPort(node, kind);
    return port === undefined ? undefined : { node, port, reason };
  }

  private nextRoundRobin(kind: BackendKind, exclude: ServerNode | undefined): NodeChoice | undefined {
    const rr = this.roundRobin[kind];
    const n = rr.nodes.length;
    for (let i = 0; i < n; i++) {
      const node = rr.nodes[rr.next % n]!;
      rr.next = (rr.next + 1) % n;
      if (node === exclude || this.isRefused(node)) continue;
      return { node, port: backendPort(node, kind)!, reason: 'round-robin' };
    }
    return undefined;
  }
}
