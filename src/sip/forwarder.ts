// The stateless SIP forwarder (its I/O): decides the direction of each message, chooses the node, applies
// the rewriting rules of rewrite.ts and sends. Addresses are local-addresses.ts, the INVITE memory
// recent-invites.ts.

import { lookup } from 'node:dns';
import type { Config, SipTransport } from '../config/types.js';
import type { Logger } from '../log.js';
import type { NodeRegistry } from '../registry/node-registry.js';
import type { ServerNode } from '../registry/server-node.js';
import type { BalancerAlgorithm } from '../algorithms/algorithm.js';
import { trafficHealthPicker, type NodeHealthMonitor } from '../algorithms/health.js';
import type { SipStats } from './sip-stats.js';
import { RateLimitedLog } from '../log-limit.js';
import { parseDatagram, withoutReceived, type SipMessage, type ViaValue } from './message.js';
import { bareHost, isIpLiteral, defaultPort, parseUri, uriHost, uriOfNameAddr, uriTransport } from './uri.js';
import { REASONS, buildReply } from './replies.js';
import { isSipHeartbeat, parseSipHeartbeat } from './heartbeat.js';
import type { Flow, ListeningPoint, Side } from './transport/transport.js';
import { markClientContact, nodeRequestTarget } from './transport/legs.js';
import { LocalAddresses, bySideTransport } from './local-addresses.js';
import { RecentInvites } from './recent-invites.js';
import { NodeChoice, type NodePicker } from './node-choice.js';
import {
  INITIAL_REMOTE_ADDR, INITIAL_REMOTE_PORT, asTransport, branchBase, isPort, legBranch, popBalancerRoutes, publicContact, recordRouteValue,
  removeOwnHeaders, rewriteUriHostPort, responseTarget, stampReceived, uriDefaultPort, viaDefaultPort, viaLine, type NodeHint, type NodeLeg,
} from './rewrite.js';

export { LocalAddresses, type Advertised } from './local-addresses.js';
export { RecentInvites } from './recent-invites.js';
export {
  INITIAL_REMOTE_ADDR, INITIAL_REMOTE_PORT, asTransport, branchBase, isPort, legBranch, popBalancerRoutes, publicContact, recordRouteValue,
  removeOwnHeaders, responseTarget, rewriteUriHostPort, stampReceived, versionOfBranch, viaLine, type NodeHint, type NodeLeg,
} from './rewrite.js';

/** Requests that create a dialog, and so get the balancer's Record-Route when they carry no To tag. */
const DIALOG_CREATING = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);

export interface ForwarderDeps {
  /** Node health from traffic (unanswered requests, error statuses); fed when its rules are on. */
  readonly health?: NodeHealthMonitor;
  readonly config: Config;
  readonly registry: NodeRegistry;
  readonly algorithm: BalancerAlgorithm;
  readonly stats: SipStats;
  readonly log: Logger;
  /**
   * nodeAllowedSources: when given, node-side traffic (SIP heartbeats, requests and responses from nodes) from
   * any other source address is refused and counted.
   */
  readonly nodeSources?: { allows(address: string): boolean };
  /** With workers: reaches connections another worker holds (src/workers/sip-relay.ts). */
  readonly relay?: WorkerRelayHook;
}

/**
 * What the forwarder asks of the worker relay (`workers` > 1): a connection lives in the worker that accepted
 * or opened it, so messages bound for it carry that worker's index and are handed to it.
 */
export interface WorkerRelayHook {
  /** Called by the SIP service once its listening points are open: where handed-over messages go. */
  attach(deliver: (msg: SipMessage, flow: Flow) => void, points: readonly ListeningPoint[]): void;
  /** `;lbw=<index>`, appended to the balancer's Vias on a request that came on a connection of this worker. */
  readonly viaParam: string;
  /** A response whose top Via names another worker is handed to it (true); false: handle it here. */
  handOver(msg: SipMessage, flow: Flow): boolean;
  /** Marks the Contacts of a message from a client on a connection with the index of the worker holding it. */
  markContacts(msg: SipMessage, flow: Flow): void;
  /** The worker named in the Request-URI of a node's request (the mark is taken off), when it is another one. */
  ownerOf(msg: SipMessage): number | undefined;
  /** Sends on `out`'s side and transport from worker `owner`, which holds (or opens) the connection. */
  sendFrom(owner: number, out: ListeningPoint, data: Buffer, host: string, port: number): void;
}

export class SipForwarder {
  private config: Config;
  private readonly registry: NodeRegistry;
  private readonly algorithm: BalancerAlgorithm;
  private readonly stats: SipStats;
  private readonly log: Logger;
  private readonly points = bySideTransport<ListeningPoint>();
  private readonly singleEntry: boolean;
  private health: NodeHealthMonitor | undefined;
  private readonly recentInvites = new RecentInvites();
  /** Node choice for requests from clients, health from traffic around it. */
  private readonly picker: NodePicker;
  private readonly nodeSources: { allows(address: string): boolean } | undefined;
  private readonly relay: WorkerRelayHook | undefined;
  /** Warnings a peer can provoke at will (errors, refused sources): once per cause per interval. */
  private readonly warnings: RateLimitedLog;
  readonly local: LocalAddresses;

  constructor(deps: ForwarderDeps, points: readonly ListeningPoint[]) {
    this.config = deps.config;
    this.registry = deps.registry;
    this.algorithm = deps.algorithm;
    this.stats = deps.stats;
    this.log = deps.log;
    this.health = deps.health?.enabled ? deps.health : undefined;
    this.nodeSources = deps.nodeSources;
    this.relay = deps.relay;
    this.warnings = new RateLimitedLog(deps.log);
    for (const p of points) this.points[p.side][p.transport] = p;
    this.singleEntry = deps.config.sip.singleEntryMode || !points.some((p) => p.side === 'internal');
    this.local = new LocalAddresses(deps.config, points);
    const toNodes = this.points[this.singleEntry ? 'external' : 'internal'];
    const choice = new NodeChoice({
      registry: this.registry,
      algorithm: this.algorithm,
      recentInvites: this.recentInvites,
      local: this.local,
      config: () => this.config,
      canSend: (t) => toNodes[t] !== undefined,
    });
    this.picker = trafficHealthPicker(choice, () => this.health);
    this.stats.recentInvites = this.recentInvites;
  }

  /**
   * Hot reload: what is read per message (blockedValues, Retry-After and 5xx answers, transports, 100 Trying)
   * follows `next` from the next message on; `health` is the monitor with its new limits.
   */
  reload(next: Config, health: NodeHealthMonitor | undefined): void {
    this.config = next;
    this.health = health?.enabled ? health : undefined;
  }

  /** Every framed message from every listening point comes here. */
  readonly onMessage = (msg: SipMessage, flow: Flow): void => {
    try {
      if (msg.isRequest) this.handleRequest(msg, flow, undefined);
      else this.handleResponse(msg, flow);
    } catch (err) {
      this.failed(err, flow);
    }
  };

  /** A peer's bytes must never take the process down, nor flood the log: counted, warned once per interval. */
  private failed(err: unknown, flow: Flow): void {
    this.stats.dropped.inc('error');
    this.warnings.warn('error', `Dropped a SIP message from ${flow.remoteAddress}:${flow.remotePort}: ${(err as Error).message}`, err);
  }

  /**
   * Whether a message comes from a node. Trust follows the side, never the message: in two-port mode, the
   * internal side (but not a connection the balancer opened to an address that is not a registered node's); in
   * single-entry mode, the packet's source: a registered node's address, or a stream a node's address opened
   * (nodes connect from passing ports). With nodeAllowedSources, only from an allowed source. A refused
   * source returns 'refused' (the message is then dropped and counted).
   */
  private nodeSide(flow: Flow): boolean | 'refused' {
    let node: boolean;
    if (!this.singleEntry) {
      if (flow.local.side !== 'internal') return false;
      if (flow.outbound === true && !this.registry.isServerAddress(flow.remoteAddress, flow.remotePort)) return 'refused';
      node = true;
    } else {
      node =
        this.registry.isServerAddress(flow.remoteAddress, flow.remotePort) ||
        (flow.transport !== 'udp' && flow.outbound !== true && this.registry.hasNodeAddress(flow.remoteAddress));
      if (!node) return false;
    }
    return this.nodeSources === undefined || this.nodeSources.allows(flow.remoteAddress) ? node : 'refused';
  }

  /** Counts (and warns once per interval of) node-side traffic from a source that may not send it. */
  private refuseNodeSource(flow: Flow, what: string): void {
    this.stats.nodeSourceRefused++;
    this.stats.dropped.inc('node-source-refused');
    this.warnings.warn('node-source-refused', `Refused ${what} from ${flow.remoteAddress}:${flow.remotePort} (${flow.transport}): not an allowed node source (nodeAllowedSources) or a connection the balancer opened to a non-node`);
  }

  /** The listening point for a side and transport; in single-entry mode everything is external. */
  private point(side: Side, transport: SipTransport): ListeningPoint | undefined {
    const bySide = this.points[this.singleEntry ? 'external' : side];
    return bySide[transport] ?? bySide.udp ?? bySide.tcp;
  }

  // ---- requests ----

  private handleRequest(msg: SipMessage, flow: Flow, retryExcluding: ServerNode | undefined): void {
    const stats = this.stats;
    if (!retryExcluding) {
      stats.requests++;
      stats.requestsByMethod.inc(msg.method);
    }
    let via = msg.topVia;
    if (!via) {
      stats.malformed++;
      return;
    }
    // The bytes as they came: for the one retry on the next node, and for our reply when that fails too.
    const original = msg.toBuffer();
    via = stampReceived(msg, via, flow);
    // After stamping, so that the 200 OK honours rport like any other reply.
    if (isSipHeartbeat(msg)) return this.heartbeat(msg, flow);

    // In single-entry mode by the packet's source address, never by its Via (issue 10, finding 3).
    const side = this.nodeSide(flow);
    if (side === 'refused') return this.refuseNodeSource(flow, `a ${msg.method}`);
    const fromNode = side;

    const mf = msg.maxForwards;
    if (mf !== undefined && mf <= 0) {
      stats.dropped.inc('too-many-hops');
      if (msg.method !== 'ACK') this.reply(msg, flow, 483);
      return;
    }
    msg.setMaxForwards(mf === undefined ? 70 : mf - 1);
    const hint = popBalancerRoutes(msg, this.local);

    removeOwnHeaders(msg);
    if (fromNode) {
      if (flow.local.side === 'internal') this.registry.touchAddress(flow.remoteAddress, flow.remotePort);
      this.fromNodeToClient(msg, flow, via, hint);
    } else {
      this.fromClientToNode(msg, flow, via, hint, original, retryExcluding);
    }
  }

  private heartbeat(msg: SipMessage, flow: Flow): void {
    if (flow.local.side !== 'internal' || this.singleEntry) {
      // Manual: heartbeats on the external entry point are ignored, for security.
      this.stats.heartbeatOnExternalPort++;
      this.log.debug(`Ignored a SIP heartbeat on the external port from ${flow.remoteAddress}:${flow.remotePort}`);
      return;
    }
    // A node heartbeats to the balancer's port: never on a connection the balancer opened (issue 10, finding 1).
    if (flow.outbound === true || (this.nodeSources !== undefined && !this.nodeSources.allows(flow.remoteAddress))) {
      this.refuseNodeSource(flow, 'a SIP heartbeat');
      return;
    }
    const hb = parseSipHeartbeat(msg.body.toString('latin1'), flow.remoteAddress);
    if (!hb) {
      this.stats.dropped.inc('bad-heartbeat');
      this.reply(msg, flow, 400, 'Heartbeat without ports');
      return;
    }
    const node = this.registry.register(hb.node);
    if (hb.graceful) this.registry.setState(node, 'graceful', 'GRACEFUL_SHUTDOWN in a SIP heartbeat');
    this.stats.heartbeats++;
    this.reply(msg, flow, 200);
  }

  private fromClientToNode(msg: SipMessage, flow: Flow, via: ViaValue, hint: NodeHint | undefined, original: Buffer | undefined, excluding: ServerNode | undefined): void {
    const initial = msg.toTag === undefined;
    const pick = this.picker.pick({ msg, flow, hint, excluding });
    if (!pick.node) {
      if (excluding && pick.reason === 'no-node') {
        // The retry after a failed send has no other node: the client is told (isSend5xxResponse*).
        this.stats.dropped.inc('send-failed');
        this.replySendFailed(msg, flow);
        return;
      }
      switch (pick.reason) {
        case 'blocked':
          this.stats.dropped.inc('blocked');
          return;
        case 'loop':
          this.stats.looped++;
          return;
        case 'no-node':
          this.stats.noNode++;
          break;
        case 'no-transport':
          this.stats.dropped.inc('no-transport-to-node');
          break;
      }
      if (msg.method === 'ACK') return;
      // No live node for a new call is a request that cannot be sent to any node: isSend5xxResponse's status.
      if (initial && pick.reason === 'no-node' && this.config.sip.isSend5xxResponse) this.replySendFailed(msg, flow);
      else this.reply(msg, flow, 503, undefined, [['Retry-After', String(this.config.sip.retryAfterSeconds)]]);
      return;
    }
    const { node, transport, port } = pick;
    if (!excluding && msg.method === 'INVITE' && this.config.sip.isSendTrying) this.reply(msg, flow, 100);
    markClientContact(msg, flow, transport);
    const mark = this.relay && flow.transport !== 'udp' ? this.relay.viaParam : '';
    if (mark !== '') this.relay!.markContacts(msg, flow);
    const nodeLeg: NodeLeg = { node, nodeHost: node.ip, nodePort: port, version: node.version };

    // Vias: the external leg's, then the internal leg's on top (one Via in single-entry mode).
    const base = branchBase(msg, via);
    const out = this.point('internal', transport)!;
    if (!this.singleEntry) {
      const ext = this.local.viaAddress('external', flow.transport, flow.remoteAddress);
      if (ext) msg.prependVia(viaLine(flow.transport, ext, legBranch(base, 'external', node.version)) + mark);
    }
    const intAddr = this.local.viaAddress(out.side, out.transport, node.ip)!;
    msg.prependVia(viaLine(out.transport, intAddr, legBranch(base, 'internal', node.version)) + mark);

    if (initial && DIALOG_CREATING.has(msg.method)) {
      const extRR = this.local.recordRouteAddress('external', flow.transport, flow.remoteAddress);
      if (extRR) msg.prependListValue('Record-Route', recordRouteValue(flow.transport, extRR, nodeLeg));
      if (!this.singleEntry) {
        const intRR = this.local.recordRouteAddress('internal', out.transport, node.ip);
        if (intRR) msg.prependListValue('Record-Route', recordRouteValue(out.transport, intRR, nodeLeg));
      }
    }

    // Target: a Request-URI that names the balancer is rewritten; otherwise a Route to the node is pushed
    // unless the next hop already is that node.
    const topRoute = msg.firstListValue('route');
    const ruri = parseUri(msg.requestUri);
    const next = topRoute !== undefined ? parseUri(uriOfNameAddr(topRoute)) : ruri;
    const nextIsNode = next !== undefined && bareHost(next.host) === node.ip && (next.port ?? uriDefaultPort(next)) === port;
    if (!nextIsNode) {
      if (topRoute === undefined && ruri && ruri.host !== '' && this.local.isLocal(ruri.host, ruri.port ?? uriDefaultPort(ruri))) {
        msg.setRequestUri(rewriteUriHostPort(ruri, node.ip, port));
      } else {
        msg.prependListValue('Route', `<sip:${uriHost(node.ip)}:${port};transport=${transport};lr>`);
      }
    }

    if (msg.method === 'REGISTER' || msg.body.length > 0) {
      // The client's own copies are gone already (removeOwnHeaders): add, never set.
      msg.addHeader(INITIAL_REMOTE_ADDR, flow.remoteAddress);
      msg.addHeader(INITIAL_REMOTE_PORT, String(flow.remotePort));
    }

    const data = msg.toBuffer();
    const answerable = original !== undefined && initial && msg.method !== 'ACK' && msg.method !== 'CANCEL';
    const retryable = answerable && excluding === undefined;
    const failed = answerable ? original : undefined;
    if (out.transport !== 'udp') {
      // A stream send may fail later (connect, handshake): that failure needs this request's context.
      out.sendTo(data, node.ip, port, (err) => this.sendToNodeFailed(err, msg, flow, node, failed, retryable));
      return;
    }
    // A datagram send fails at once or never: one shared callback notes it, no closure per request.
    this.syncSendError = undefined;
    out.sendTo(data, node.ip, port, this.noteSyncSendError);
    const err = this.syncSendError as Error | undefined;
    if (err) {
      this.syncSendError = undefined;
      this.sendToNodeFailed(err, msg, flow, node, failed, retryable);
    }
  }

  /** The failure of a datagram send, noted by the shared callback while sendTo runs. */
  private syncSendError: Error | undefined;
  private readonly noteSyncSendError = (err: Error): void => {
    this.syncSendError = err;
  };

  /**
   * A request could not be sent to `node`: counted; an initial request (`original` given) is tried once on the
   * next node, and when that is not possible the client is answered (isSend5xxResponse*).
   */
  private sendToNodeFailed(err: Error, msg: SipMessage, flow: Flow, node: ServerNode, original: Buffer | undefined, retryable: boolean): void {
    // Stream failures come in a socket callback, outside onMessage: it catches for itself.
    try {
      this.stats.sendFailures++;
      this.warnings.warn('send-failed', `Sending ${msg.method} to ${node} failed: ${err.message}`);
      if (!original) {
        this.stats.dropped.inc('send-failed');
        return;
      }
      if (!retryable) {
        // The retry on the next node failed too: the client is told.
        this.stats.dropped.inc('send-failed');
        const first = parseDatagram(original);
        if (first.kind === 'message') this.replySendFailed(first.message, flow);
        return;
      }
      // Try the next node once, from the original bytes.
      const again = parseDatagram(original);
      if (again.kind !== 'message') return;
      this.handleRequest(again.message, flow, node);
    } catch (e) {
      this.failed(e, flow);
    }
  }

  private fromNodeToClient(msg: SipMessage, flow: Flow, via: ViaValue, hint: NodeHint | undefined): void {
    const topRoute = msg.firstListValue('route');
    const owner = topRoute === undefined ? this.relay?.ownerOf(msg) : undefined;
    const target = nodeRequestTarget(msg, topRoute);
    if (!target || target.host === '') {
      this.stats.dropped.inc('no-route');
      if (msg.method !== 'ACK') this.reply(msg, flow, 404, 'No route to the destination');
      return;
    }
    const transport = asTransport(uriTransport(target)) ?? this.config.sip.externalTransport ?? flow.transport;
    const out = this.point('external', transport);
    if (!out) {
      this.stats.dropped.inc('no-transport');
      return;
    }
    const port = target.port ?? defaultPort(out.transport);
    const host = bareHost(target.host);
    if (!isPort(port)) {
      this.badAddress(flow, 'a request from a node', host, port);
      return;
    }
    if (this.local.isLocal(host, port)) {
      this.stats.looped++;
      return;
    }

    const node =
      (hint && this.registry.findByHint(hint.host, hint.port, hint.transport, hint.version)) ??
      this.registry.findByAddress(flow.remoteAddress, flow.remotePort) ??
      this.registry.findByAddress(bareHost(via.host), via.port ?? viaDefaultPort(via));
    const nodeLeg: NodeLeg = node
      ? { node, nodeHost: node.ip, nodePort: node.ports[flow.transport] ?? via.port ?? flow.remotePort, version: node.version }
      : { node: undefined, nodeHost: hint?.host ?? bareHost(via.host), nodePort: hint?.port ?? via.port ?? flow.remotePort, version: hint?.version ?? this.registry.latestVersion };

    // Vias: the internal leg's, then the external leg's on top (one Via in single-entry mode).
    const base = branchBase(msg, via);
    const mark = this.relay && flow.transport !== 'udp' ? this.relay.viaParam : '';
    if (!this.singleEntry) {
      const intAddr = this.local.viaAddress('internal', flow.transport, flow.remoteAddress);
      if (intAddr) msg.prependVia(viaLine(flow.transport, intAddr, legBranch(base, 'internal', nodeLeg.version)) + mark);
    }
    const extAddr = this.local.viaAddress('external', out.transport, host)!;
    msg.prependVia(viaLine(out.transport, extAddr, legBranch(base, 'external', nodeLeg.version)) + mark);

    if (msg.toTag === undefined && DIALOG_CREATING.has(msg.method)) {
      if (!this.singleEntry) {
        const intRR = this.local.recordRouteAddress('internal', flow.transport, flow.remoteAddress);
        if (intRR) msg.prependListValue('Record-Route', recordRouteValue(flow.transport, intRR, nodeLeg));
      }
      const extRR = this.local.recordRouteAddress('external', out.transport, host);
      if (extRR) msg.prependListValue('Record-Route', recordRouteValue(out.transport, extRR, nodeLeg));
    }

    const data = msg.toBuffer();
    if (isIpLiteral(host)) this.toClient(out, data, host, port, owner);
    else {
      lookup(host, (err, address) => {
        // A DNS callback, outside onMessage: it catches for itself.
        try {
          if (err) {
            this.stats.dropped.inc('dns');
            this.log.debug(`Cannot resolve ${host}: ${err.message}`);
          } else if (this.local.isLocal(address, port)) this.stats.looped++;
          else this.toClient(out, data, address, port, owner);
        } catch (e) {
          this.failed(e, flow);
        }
      });
    }
  }

  /** Sends a node's request on to a client: from the worker holding the client's connection when that is another. */
  private toClient(out: ListeningPoint, data: Buffer, host: string, port: number, owner: number | undefined): void {
    if (owner !== undefined && out.transport !== 'udp') this.relay!.sendFrom(owner, out, data, host, port);
    else out.sendTo(data, host, port, this.countSendFailure);
  }

  /** A destination taken from a header that is no address (port 0, rport=99999): a counted drop. */
  private badAddress(flow: Flow, what: string, host: string, port: number): void {
    this.stats.dropped.inc('bad-address');
    this.warnings.warn('bad-address', `Dropped ${what} from ${flow.remoteAddress}:${flow.remotePort}: its destination ${host}:${port} is not a valid address`);
  }

  // ---- responses ----

  private handleResponse(msg: SipMessage, flow: Flow): void {
    // With workers: the response of a request that came on another worker's connection goes back through it.
    if (this.relay?.handOver(msg, flow)) return;
    this.stats.responses++;
    this.stats.responsesByStatus.inc(msg.status);
    const side = this.nodeSide(flow);
    if (side === 'refused') return this.refuseNodeSource(flow, 'a response');
    const fromNode = side;
    if (fromNode && !this.singleEntry) this.registry.touchAddress(flow.remoteAddress, flow.remotePort);
    if (fromNode && this.health) {
      const node = this.registry.findByAddress(flow.remoteAddress, flow.remotePort);
      if (node) this.health.responseReceived(node, msg.status);
    }

    // Remove the balancer's own Vias (one per leg).
    let via = msg.topVia;
    if (!via || !this.local.isLocal(via.host, via.port ?? viaDefaultPort(via))) {
      this.stats.dropped.inc('response-not-for-us');
      return;
    }
    msg.dropFirstListValue('via');
    via = msg.topVia;
    if (via && this.local.isLocal(via.host, via.port ?? viaDefaultPort(via))) {
      msg.dropFirstListValue('via');
      via = msg.topVia;
    }
    if (!via) {
      this.stats.dropped.inc('response-to-balancer');
      return;
    }
    const target = responseTarget(via);
    if (target.port === 0) {
      this.badAddress(flow, 'a response', target.host, target.port);
      return;
    }
    const out = this.point(fromNode ? 'external' : 'internal', target.transport);
    if (!out) {
      this.stats.dropped.inc('no-transport');
      return;
    }
    if (!fromNode) {
      // A client's response goes only to a node: a registered node's address, or a connection a node opened.
      // Never where the client's Via says otherwise (issue 10, findings 1 and 2).
      if (!this.isNodeDestination(out, target.host, target.port)) {
        this.stats.dropped.inc('response-not-to-node');
        this.warnings.warn('response-not-to-node', `Dropped a response from ${flow.remoteAddress}:${flow.remotePort}: its next Via names no node`);
        return;
      }
      markClientContact(msg, flow, target.transport);
      if (this.relay && flow.transport !== 'udp') this.relay.markContacts(msg, flow);
      // isUseWithNexmo: the node's Via goes back without the received/rport the balancer stamped (the
      // original's rule for Nexmo's servers); the target above was computed from them already.
      if (this.config.sip.isUseWithNexmo && (via.received !== undefined || via.rport !== undefined)) msg.setTopVia(withoutReceived(via));
    } else if (this.config.sip.publicIp !== undefined || this.config.sip.publicIpv6 !== undefined) {
      publicContact(msg, this.local, this.config, target.host);
    }
    out.sendTo(msg.toBuffer(), target.host, target.port, this.countSendFailure);
  }

  /** host:port is a registered node's address, or a connection open on `out` from a registered node's address. */
  private isNodeDestination(out: ListeningPoint, host: string, port: number): boolean {
    if (this.registry.isServerAddress(host, port)) return true;
    return out.hasConnection !== undefined && this.registry.hasNodeAddress(host) && out.hasConnection(host, port);
  }

  /** One shared callback (no closure per message) for sends whose failure is only counted. */
  private readonly countSendFailure = (err: Error): void => {
    this.stats.sendFailures++;
    this.log.debug(`Sending a SIP message failed: ${err.message}`);
  };

  /**
   * No node could be reached for an initial request (connect refused or reset, after the one retry; or no live
   * node at all): 503 with Retry-After; with isSend5xxResponse the configured status, and an RFC 3326 Reason when
   * a text is set.
   */
  private replySendFailed(req: SipMessage, flow: Flow): void {
    const sip = this.config.sip;
    const extra: [string, string][] = [['Retry-After', String(sip.retryAfterSeconds)]];
    if (!sip.isSend5xxResponse) return this.reply(req, flow, 503, undefined, extra);
    const status = sip.isSend5xxResponseStatusCode;
    const text = sip.isSend5xxResponseReasonHeader;
    if (text !== undefined && text !== '') extra.push(['Reason', `SIP;cause=${status};text="${text.replace(/["\\]/g, '')}"`]);
    this.reply(req, flow, status, REASONS[status] ?? 'Service Unavailable', extra);
  }

  /** Sends a reply of our own to a request: on the same connection for streams, by Via for UDP. */
  private reply(req: SipMessage, flow: Flow, status: number, reason?: string, extra?: readonly (readonly [string, string])[]): void {
    const data = buildReply(req, status, reason, extra);
    this.stats.responsesByStatus.inc(status);
    if (flow.transport !== 'udp') {
      flow.send(data);
      return;
    }
    const via = req.topVia;
    const target = via ? responseTarget(via) : { host: flow.remoteAddress, port: flow.remotePort };
    if (target.port === 0) {
      this.badAddress(flow, `our ${status} reply to a ${req.method}`, target.host, target.port);
      return;
    }
    flow.local.sendTo(data, target.host, target.port);
  }
}
