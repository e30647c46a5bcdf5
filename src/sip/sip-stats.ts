// SIP counters (manual "Getting statistic" 1.a–f, plus what a proxy must count to be operable), owned by the
// SIP service and registered with the shared /lbstat document and Prometheus registry.

import type { Registry } from 'prom-client';
import type { SipDropReason } from '../errors.js';
import { CounterMap, promCounter, promCounterMap, promGaugeMap } from '../stats/counters.js';
import { MethodCounter, StatusCounter, SIP_METHODS, SIP_STATUS_CODES } from '../stats/closed-counters.js';
import type { ProtocolStats } from '../stats/stats.js';
import type { FloodLimiter } from './flood-limiter.js';

/** Sources shown in /lbstat's SipFloodSources. */
const FLOOD_SOURCES_SHOWN = 10;

export class SipStats implements ProtocolStats {
  readonly protocol = 'sip';
  requests = 0;
  responses = 0;
  /** Bytes of SIP messages received and forwarded (whole messages, not only bodies). */
  bytes = 0;
  /** By method and status from a closed set (RFC methods, registered codes, classes, `other`): peers cannot add series. */
  readonly requestsByMethod = new MethodCounter(SIP_METHODS);
  readonly responsesByStatus = new StatusCounter(SIP_STATUS_CODES);
  /** Open stream connections (TCP, TLS, WS, WSS) by transport. */
  readonly activeConnections = new CounterMap<string>();
  /** Messages that could not be framed or parsed. */
  malformed = 0;
  /** Messages dropped for any other reason (no route, send failure after retry, …), by reason (a closed set). */
  readonly dropped = new CounterMap<SipDropReason>();
  /** Requests whose next hop was the balancer itself. */
  looped = 0;
  /** Requests answered 503 because no node could take them. */
  noNode = 0;
  /** Heartbeats received on an external port (ignored). */
  heartbeatOnExternalPort = 0;
  /** Node-side traffic (heartbeats, requests, responses) refused: not from an allowed node source (issue 10). */
  nodeSourceRefused = 0;
  /** SIP heartbeats accepted on an internal port. */
  heartbeats = 0;
  /** Sends to a node that failed. */
  sendFailures = 0;
  /** Nodes marked bad because the network said they are gone (ICMP port unreachable, TCP refused or reset). */
  nodesUnreachable = 0;
  /** Stream connections closed for an error or an oversized message. */
  connectionErrors = 0;
  tlsHandshakeFailures = 0;
  /** The forwarder's memory of recent INVITEs (bounded): its size and the entries evicted when full. */
  recentInvites: { readonly size: number; readonly evicted: number } | undefined;
  /** The flood limiter, when floodRequestsPerSecond is set: its bans and worst sources. */
  flood: FloodLimiter | undefined;

  activeConnectionCount(): number {
    return this.activeConnections.total();
  }

  lbstatFields(): Record<string, unknown> {
    return {
      NumberOfRequestsProcessed: this.requests,
      NumberOfResponsesProcessed: this.responses,
      NumberOfBytesTransferred: this.bytes,
      NumberOfActiveSipConnections: this.activeConnections.total(),
      SipRequestsByMethod: this.requestsByMethod.toJSON(),
      SipResponsesByStatusCode: this.responsesByStatus.toJSON(),
      SipActiveConnectionsByTransport: this.activeConnections.toJSON(),
      SipMalformedMessages: this.malformed,
      SipDroppedMessages: this.dropped.total(),
      SipDroppedByReason: this.dropped.toJSON(),
      SipLoopedRequests: this.looped,
      SipNoNodeAvailable: this.noNode,
      SipHeartbeats: this.heartbeats,
      SipHeartbeatsOnExternalPort: this.heartbeatOnExternalPort,
      SipNodeSourceRefused: this.nodeSourceRefused,
      SipSendFailures: this.sendFailures,
      SipNodesMarkedUnreachable: this.nodesUnreachable,
      SipConnectionErrors: this.connectionErrors,
      SipTlsHandshakeFailures: this.tlsHandshakeFailures,
      SipRecentInvites: this.recentInvites?.size ?? 0,
      SipRecentInvitesEvicted: this.recentInvites?.evicted ?? 0,
      ...(this.flood && {
        SipFloodBans: this.flood.bans,
        SipFloodTrackedSources: this.flood.size,
        // By address, worst first: an object, so that the workers' documents merge source by source.
        SipFloodSources: Object.fromEntries(this.flood.worst(FLOOD_SOURCES_SHOWN).map(({ address, ...rest }) => [address, rest])),
      }),
    };
  }

  register(registry: Registry): void {
    promCounterMap(registry, 'sipbalancer_sip_requests_total', 'SIP requests processed, by method', 'method', this.requestsByMethod);
    promCounterMap(registry, 'sipbalancer_sip_responses_total', 'SIP responses processed, by status code', 'status', this.responsesByStatus);
    promCounter(registry, 'sipbalancer_sip_bytes_total', 'Bytes of SIP messages processed', () => this.bytes);
    promGaugeMap(registry, 'sipbalancer_sip_active_connections', 'Open SIP stream connections, by transport', 'transport', this.activeConnections);
    promCounter(registry, 'sipbalancer_sip_malformed_total', 'SIP messages that could not be parsed', () => this.malformed);
    promCounterMap(registry, 'sipbalancer_sip_dropped_total', 'SIP messages dropped, by reason', 'reason', this.dropped);
    promCounter(registry, 'sipbalancer_sip_looped_total', 'SIP requests whose next hop was the balancer itself', () => this.looped);
    promCounter(registry, 'sipbalancer_sip_no_node_total', 'SIP requests answered 503 for want of a node', () => this.noNode);
    promCounter(registry, 'sipbalancer_sip_heartbeats_total', 'SIP heartbeats accepted on internal ports', () => this.heartbeats);
    promCounter(registry, 'sipbalancer_sip_heartbeats_external_total', 'SIP heartbeats ignored on external ports', () => this.heartbeatOnExternalPort);
    promCounter(registry, 'sipbalancer_sip_node_source_refused_total', 'SIP node-side messages refused: not from an allowed node source', () => this.nodeSourceRefused);
    promCounter(registry, 'sipbalancer_sip_send_failures_total', 'Failed sends of SIP messages', () => this.sendFailures);
    promCounter(registry, 'sipbalancer_sip_nodes_unreachable_total', 'Nodes marked bad because the network reported them gone', () => this.nodesUnreachable);
    promCounter(registry, 'sipbalancer_sip_connection_errors_total', 'SIP stream connections closed on error', () => this.connectionErrors);
    promCounter(registry, 'sipbalancer_sip_recent_invites_evicted_total', 'Recent-INVITE Call-IDs forgotten early because the memory was full', () => this.recentInvites?.evicted ?? 0);
    promCounter(registry, 'sipbalancer_sip_flood_bans_total', 'Client sources banned for exceeding floodRequestsPerSecond', () => this.flood?.bans ?? 0);
    promCounter(registry, 'sipbalancer_sip_tls_handshake_failures_total', 'Failed TLS handshakes on SIP ports', () => this.tlsHandshakeFailures);
  }
}
