// One application server as the balancer knows it: where it listens and how healthy it is.

import type { SipTransport } from '../config/types.js';

export type NodeState = 'active' | 'graceful' | 'bad';

/** What OPTIONS probes found at a static node's address (src/registry/probe.ts keeps it up to date). */
export interface ProbeState {
  state: 'unknown' | 'up' | 'down';
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  lastRttMs?: number;
  lastStatus?: number;
  lastFailure?: string;
  lastProbeAt?: number;
  lastAnswerAt?: number;
}

export interface ServerNodeInit {
  readonly ip: string;
  readonly hostname?: string;
  readonly ports?: Partial<Record<SipTransport, number>>;
  readonly httpPort?: number;
  readonly sslPort?: number;
  readonly smppPort?: number;
  readonly version?: string;
  readonly sessionId?: string;
  readonly jvmRoute?: string;
  readonly properties?: Record<string, string>;
  /** Never expires (extraServerNodes with performanceTestingMode). */
  readonly permanent?: boolean;
}

export class ServerNode {
  /** Stable identity in the registry: sessionId when the node gave one, else ip + ports. */
  readonly id: string;
  readonly ip: string;
  hostname: string;
  ports: Partial<Record<SipTransport, number>>;
  httpPort?: number;
  sslPort?: number;
  smppPort?: number;
  version: string;
  sessionId?: string;
  jvmRoute?: string;
  properties: Record<string, string>;
  state: NodeState = 'active';
  /** Why the node is bad, when it is. */
  badReason?: string;
  readonly permanent: boolean;
  readonly registeredAt: number;
  lastSeen: number;
  /** New calls (and HTTP requests) the algorithm gave this node, and every request it routed to it. */
  newCalls = 0;
  routedRequests = 0;
  /** Set while the node's address is probed with OPTIONS (a staticNodes entry). */
  probe?: ProbeState;

  constructor(init: ServerNodeInit, now: number) {
    this.ip = init.ip;
    this.hostname = init.hostname ?? init.ip;
    this.ports = { ...init.ports };
    this.httpPort = init.httpPort;
    this.sslPort = init.sslPort;
    this.smppPort = init.smppPort;
    this.version = init.version ?? '0';
    this.sessionId = init.sessionId;
    this.jvmRoute = init.jvmRoute;
    this.properties = { ...init.properties };
    this.permanent = init.permanent ?? false;
    this.id = ServerNode.idOf(init);
    this.registeredAt = now;
    this.lastSeen = now;
  }

  static idOf(init: ServerNodeInit): string {
    if (init.sessionId !== undefined && init.sessionId !== '') return `session:${init.sessionId}`;
    const p = init.ports ?? {};
    return `${init.ip}:${p.udp ?? ''}/${p.tcp ?? ''}/${p.tls ?? ''}/${p.ws ?? ''}/${p.wss ?? ''}/${init.httpPort ?? ''}`;
  }

  /** True when the node takes new calls and HTTP sessions. */
  get acceptsNewWork(): boolean {
    return this.state === 'active';
  }

  /** True when any of the node's ports equals `port` (the original's KeySip rule). */
  hasPort(port: number): boolean {
    const p = this.ports;
    return (
      p.udp === port || p.tcp === port || p.tls === port || p.ws === port || p.wss === port ||
      this.httpPort === port || this.sslPort === port
    );
  }

  /** A short human form for logs: `hostname ip:udp/tcp… v<version>`. */
  toString(): string {
    const ports = Object.entries(this.ports).map(([t, p]) => `${t}=${p}`).join(',');
    return `${this.hostname}(${this.ip} ${ports}${this.httpPort ? ` http=${this.httpPort}` : ''} v${this.version})`;
  }

  toJSON(now = Date.now()): Record<string, unknown> {
    return {
      id: this.id,
      hostname: this.hostname,
      ip: this.ip,
      udpPort: this.ports.udp,
      tcpPort: this.ports.tcp,
      tlsPort: this.ports.tls,
      wsPort: this.ports.ws,
      wssPort: this.ports.wss,
      httpPort: this.httpPort,
      sslPort: this.sslPort,
      smppPort: this.smppPort,
      version: this.version,
      sessionId: this.sessionId,
      jvmRoute: this.jvmRoute,
      state: this.state,
      badReason: this.badReason,
      permanent: this.permanent || undefined,
      properties: this.properties,
      lastHeartbeatAgeMs: now - this.lastSeen,
      probe: this.probe && {
        state: this.probe.state,
        lastRttMs: this.probe.lastRttMs,
        lastStatus: this.probe.lastStatus,
        lastFailure: this.probe.lastFailure,
        consecutiveFailures: this.probe.consecutiveFailures,
        consecutiveSuccesses: this.probe.consecutiveSuccesses,
        lastAnswerAgeMs: this.probe.lastAnswerAt !== undefined ? now - this.probe.lastAnswerAt : undefined,
      },
      newCalls: this.newCalls,
      routedRequests: this.routedRequests,
      registeredAt: new Date(this.registeredAt).toISOString(),
    };
  }
}
