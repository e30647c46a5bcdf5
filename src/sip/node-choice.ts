// Which node a request from a client goes to: one pipeline that returns a pick result, a node and the leg
// to reach it, or the reason there is none. The stages, in order: the one retry after a failed send (the
// next node), the node hint of a balancer Route (in-dialog), scanners (blockedValues), the node of the
// recent INVITE of this Call-ID (retransmissions, CANCEL, non-2xx ACK), a node the request names itself,
// the algorithm; then the transport to reach the node and the loop check. Health from traffic wraps the
// whole picker (algorithms/health.ts: trafficHealthPicker), as grpc-js wraps a child picker with outlier
// detection.

import type { Config, SipTransport } from '../config/types.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import type { ServerNode } from '../registry/server-node.js';
import type { BalancerAlgorithm } from '../algorithms/algorithm.js';
import type { SipMessage } from './message.js';
import { bareHost, parseUri, uriOfNameAddr } from './uri.js';
import { containsLower } from './grammar.js';
import type { LocalAddresses } from './local-addresses.js';
import type { RecentInvites } from './recent-invites.js';
import { uriDefaultPort, type NodeHint } from './rewrite.js';
import type { Flow } from './transport/transport.js';
import { internalLegTransport } from './transport/legs.js';
import { preferClientFamily } from './transport/dual-stack.js';

/** Why a request got no node: none available, a scanner, no transport both sides share, or the node is us. */
export type NoNodeReason = 'no-node' | 'blocked' | 'no-transport' | 'loop';

/** A node and the leg to it, or the reason there is none. */
export type NodePick = { readonly node: ServerNode; readonly transport: SipTransport; readonly port: number } | { readonly node?: undefined; readonly reason: NoNodeReason };

/** What a pick is asked for: the request, where it came from, its Route's node hint, the node a retry avoids. */
export interface PickRequest {
  readonly msg: SipMessage;
  readonly flow: Flow;
  readonly hint: NodeHint | undefined;
  /** Set on the one retry after a failed send: the node that failed. */
  readonly excluding: ServerNode | undefined;
}

export interface NodePicker {
  pick(req: PickRequest): NodePick;
}

// The reasons as constants: a request without a node allocates nothing.
const NO_NODE: NodePick = { reason: 'no-node' };
const BLOCKED: NodePick = { reason: 'blocked' };
const NO_TRANSPORT: NodePick = { reason: 'no-transport' };
const LOOP: NodePick = { reason: 'loop' };

export interface NodeChoiceDeps {
  readonly registry: NodeRegistry;
  readonly algorithm: BalancerAlgorithm;
  readonly recentInvites: RecentInvites;
  readonly local: LocalAddresses;
  /** The configuration now (it may be reloaded between two requests). */
  readonly config: () => Config;
  /** Whether the balancer listens for `transport` on the side it sends to nodes on. */
  readonly canSend: (transport: SipTransport) => boolean;
}

export class NodeChoice implements NodePicker {
  constructor(private readonly deps: NodeChoiceDeps) {}

  pick(req: PickRequest): NodePick {
    const node = this.choose(req);
    if (!node) return node === null ? BLOCKED : NO_NODE;
    return this.leg(node, internalLegTransport(req.flow.transport, this.deps.config().sip));
  }

  /** The node, undefined when there is none, null for a scanner. */
  private choose({ msg, flow, hint, excluding }: PickRequest): ServerNode | undefined | null {
    const { algorithm, registry, recentInvites } = this.deps;
    const initial = msg.toTag === undefined;
    let node: ServerNode | undefined;
    if (excluding) {
      node = this.nextNodeAfter(excluding);
      if (node) algorithm.assignToNode?.(msg, node);
    } else if (hint) {
      const assigned = registry.findByHint(hint.host, hint.port, hint.transport, hint.version);
      const version = hint.version ?? registry.latestVersion;
      node = algorithm.pickForAssignedSipRequest
        ? algorithm.pickForAssignedSipRequest(msg, assigned, version)
        : assigned && assigned.state !== 'bad' ? assigned : algorithm.pickForSipRequest(msg);
      if (node && node === assigned && msg.method !== 'ACK') algorithm.assignToNode?.(msg, node);
    } else {
      // Scanners (blockedValues in User-Agent, From or To) get no answer at all.
      if (initial && this.isBlocked(msg)) return null;
      // A retransmitted INVITE, its CANCEL and its non-2xx ACK follow the INVITE whatever the algorithm.
      node = msg.method === 'CANCEL' || msg.method === 'ACK' || (initial && msg.method === 'INVITE') ? recentInvites.get(msg.callId, registry) : undefined;
      if (!node) {
        node = this.explicitNode(msg, initial);
        if (node) {
          if (msg.method !== 'ACK') algorithm.assignToNode?.(msg, node);
        } else node = preferClientFamily(algorithm.pickForSipRequest(msg), flow.remoteAddress, registry, algorithm, msg);
      }
    }
    if (node && initial && msg.method === 'INVITE') recentInvites.set(msg.callId, node);
    return node;
  }

  /** The transport and port to reach a node (the wanted transport when both sides have it, else UDP or TCP), unless that is the balancer. */
  private leg(node: ServerNode, wanted: SipTransport): NodePick {
    let transport: SipTransport | undefined;
    if (node.ports[wanted] !== undefined && this.deps.canSend(wanted)) transport = wanted;
    else if (node.ports.udp !== undefined && this.deps.canSend('udp')) transport = 'udp';
    else if (node.ports.tcp !== undefined && this.deps.canSend('tcp')) transport = 'tcp';
    if (transport === undefined) return NO_TRANSPORT;
    const port = node.ports[transport]!;
    if (this.deps.local.isLocal(node.ip, port)) return LOOP;
    return { node, transport, port };
  }

  /** True when User-Agent, From or To contains one of `blockedValues` (case-insensitive). */
  private isBlocked(msg: SipMessage): boolean {
    const blocked = this.deps.config().sip.blockedValues;
    if (blocked.length === 0) return false;
    const ua = msg.header('user-agent') ?? '';
    const from = msg.from;
    const to = msg.to;
    for (const b of blocked) {
      if (b !== '' && (containsLower(ua, b) || containsLower(from, b) || containsLower(to, b))) return true;
    }
    return false;
  }

  /** A live node that the request addresses directly (top Route, else Request-URI). */
  private explicitNode(msg: SipMessage, initial: boolean): ServerNode | undefined {
    const route = msg.firstListValue('route');
    const target = parseUri(route !== undefined ? uriOfNameAddr(route) : msg.requestUri);
    if (!target || target.host === '') return undefined;
    const node = this.deps.registry.findByAddress(bareHost(target.host), target.port ?? uriDefaultPort(target));
    if (!node || node.state === 'bad' || (initial && !node.acceptsNewWork)) return undefined;
    return node;
  }

  /** The next active node of the latest version after `failed`, or undefined when it is the only one. */
  private nextNodeAfter(failed: ServerNode): ServerNode | undefined {
    const candidates = this.deps.registry.live().filter((n) => n.acceptsNewWork);
    if (candidates.length === 0) return undefined;
    const i = candidates.indexOf(failed);
    const next = candidates[(i + 1) % candidates.length];
    return next === failed ? undefined : next;
  }
}
