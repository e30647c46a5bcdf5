// The balancer algorithm interface and the registry of algorithms by name (the shape of grpc-js's
// load-balancing policies): algorithms rebuild what they need when the node set changes, so that the
// per-message pick is cheap.

import type { IncomingMessage } from 'node:http';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import type { ServerNode } from '../registry/server-node.js';
import type { NodeRegistry } from '../registry/node-registry.js';

/** What an algorithm may read of a SIP request. The SIP message class implements it. */
export interface AlgorithmSipRequest {
  readonly method: string;
  readonly callId: string;
  /** The first value of a header (any case, compact forms accepted), without parsing. */
  header(name: string): string | undefined;
  /** User part of the From / To URI (or the tel number), '' when absent. */
  readonly fromUser: string;
  readonly toUser: string;
  /** The From / To URI without display name and parameters. */
  readonly fromUri: string;
  readonly toUri: string;
}

export interface AlgorithmContext {
  readonly config: Config;
  /** Every property of lb.properties, for an algorithm's own keys. */
  readonly properties: Readonly<Record<string, string>>;
  readonly registry: NodeRegistry;
  readonly log: Logger;
}

export interface BalancerAlgorithm {
  readonly name: string;
  init(ctx: AlgorithmContext): void | Promise<void>;
  /** The live nodes of the latest version changed (added, removed, graceful, bad). */
  nodesChanged(live: readonly ServerNode[]): void;
  /** Choose a node for an initial request from a client, or undefined when none can take it. */
  pickForSipRequest(req: AlgorithmSipRequest): ServerNode | undefined;
  /**
   * An in-dialog request whose node is known (from the Record-Route hint). Returns the node to use:
   * `assigned` while it lives, another node of the same version when it is dead (failover).
   */
  pickForAssignedSipRequest?(req: AlgorithmSipRequest, assigned: ServerNode | undefined, version: string): ServerNode | undefined;
  /** Remember that `req`'s affinity key belongs to `node` (a request that carried a node hint). */
  assignToNode?(req: AlgorithmSipRequest, node: ServerNode): void;
  /** Choose a node for an HTTP request without session stickiness; undefined lets the HTTP balancer decide. */
  pickForHttpRequest(req: IncomingMessage): ServerNode | undefined;
  /** The affinity key of a request (Call-ID, From URI, To user, …), for regex pins; Call-ID when absent. */
  affinityKeyOf?(req: AlgorithmSipRequest): string;
  /** Calls (affinity entries) the algorithm tracks, for /lbstat NumberOfActiveCalls. */
  activeCalls?(): number;
  /** The algorithm's own figures (e.g. its shared store's writes and outages), for /lbstat AlgorithmStatistics. */
  statistics?(): Readonly<Record<string, number | boolean>>;
  stop(): void | Promise<void>;
}

export type AlgorithmFactory = () => BalancerAlgorithm;

// The registry of names lives in registry.ts; re-exported here for the algorithms' files.
export { algorithmFactory, registerAlgorithm, registeredAlgorithmNames } from './registry.js';

/** Active nodes of a list, in a stable order (by id), for algorithms that index into them. */
export function activeNodes(nodes: readonly ServerNode[]): ServerNode[] {
  return nodes.filter((n) => n.acceptsNewWork).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
