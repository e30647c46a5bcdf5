// HTTP balancer counters (manual "Getting statistic" 2.a–f), owned by the HTTP service and registered with
// the shared /lbstat document and Prometheus registry.

import type { Registry } from 'prom-client';
import { promCounter, promCounterMap } from '../stats/counters.js';
import { MethodCounter, StatusCounter, HTTP_METHODS, HTTP_STATUS_CODES } from '../stats/closed-counters.js';
import type { ProtocolStats } from '../stats/stats.js';

export class HttpStats implements ProtocolStats {
  readonly protocol = 'http';
  requests = 0;
  bytesToServer = 0;
  bytesToClient = 0;
  /** By method and status from a closed set (RFC methods, registered codes, classes, `other`): peers cannot add series. */
  readonly requestsByMethod = new MethodCounter(HTTP_METHODS);
  readonly responsesByStatus = new StatusCounter(HTTP_STATUS_CODES);
  activeConnections = 0;
  /** Requests answered 503 (or sent to unavailableHost) for want of a node. */
  noNode = 0;
  /** Backend errors (refused, reset) answered 502 or retried. */
  backendErrors = 0;
  webSocketUpgrades = 0;
  /** Error answers (4xx/5xx) to requests matching requestCheckPattern, and the nodes they marked bad. */
  requestCheckFailures = 0;
  requestCheckMarkedBad = 0;

  activeConnectionCount(): number {
    return this.activeConnections;
  }

  lbstatFields(): Record<string, unknown> {
    return {
      NumberOfActiveHttpConnections: this.activeConnections,
      NumberOfHttpBytesToClient: this.bytesToClient,
      NumberOfHttpBytesToServer: this.bytesToServer,
      NumberOfHttpRequests: this.requests,
      HttpRequestsByMethod: this.requestsByMethod.toJSON(),
      HttpResponsesByStatusCode: this.responsesByStatus.toJSON(),
      HttpNoNodeAvailable: this.noNode,
      HttpBackendErrors: this.backendErrors,
      HttpWebSocketUpgrades: this.webSocketUpgrades,
      HttpRequestCheckFailures: this.requestCheckFailures,
      HttpRequestCheckNodesMarkedBad: this.requestCheckMarkedBad,
    };
  }

  register(registry: Registry): void {
    promCounterMap(registry, 'sipbalancer_http_requests_total', 'HTTP requests, by method', 'method', this.requestsByMethod);
    promCounterMap(registry, 'sipbalancer_http_responses_total', 'HTTP responses, by status code', 'status', this.responsesByStatus);
    promCounter(registry, 'sipbalancer_http_bytes_to_server_total', 'Bytes received from HTTP and WebSocket clients on httpPort and httpsPort as read from their TCP connections (request heads, bodies and frames; on httpsPort the TLS records, handshake included), not the bytes written to nodes; added when a connection closes and every second', () => this.bytesToServer);
    promCounter(registry, 'sipbalancer_http_bytes_to_client_total', "Bytes sent to HTTP and WebSocket clients on httpPort and httpsPort as written to their TCP connections (response heads, bodies and frames, the balancer's own answers included; on httpsPort the TLS records, handshake included); added when a connection closes and every second", () => this.bytesToClient);
    promCounter(registry, 'sipbalancer_http_no_node_total', 'HTTP requests with no node to take them', () => this.noNode);
    promCounter(registry, 'sipbalancer_http_backend_errors_total', 'HTTP backend connection errors', () => this.backendErrors);
    promCounter(registry, 'sipbalancer_http_websocket_upgrades_total', 'WebSocket upgrades proxied', () => this.webSocketUpgrades);
    promCounter(registry, 'sipbalancer_http_request_check_failures_total', 'Error answers to requests matching requestCheckPattern', () => this.requestCheckFailures);
    promCounter(registry, 'sipbalancer_http_request_check_marked_bad_total', 'Nodes marked bad by requestCheckPattern', () => this.requestCheckMarkedBad);
  }
}
