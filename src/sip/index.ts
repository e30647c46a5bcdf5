// The SIP forwarder service: binds the external (clients) and internal (nodes) listening points of each
// configured transport and hands every framed message to the stateless forwarder.

import type { Service, ServiceContext } from '../service.js';
import { StartupError } from '../errors.js';
import type { SipTransport } from '../config/types.js';
import { SipForwarder } from './forwarder.js';
import { createNodeHealthMonitor, type NodeHealthMonitor } from '../algorithms/health.js';
import type { ListeningPoint, Side, TransportOptions } from './transport/transport.js';
import { UdpListeningPoint } from './transport/udp.js';
import { TcpListeningPoint } from './transport/tcp.js';
import { TlsListeningPoint } from './transport/tls.js';
import { WsListeningPoint } from './transport/ws.js';
import { DualStackListeningPoint, familyOf, pairByFamily } from './transport/dual-stack.js';
import { CAP } from '../config/sip-section.js';
import { NodeSources } from '../registry/node-sources.js';
import type { SipMessage } from './message.js';
import type { Flow } from './transport/transport.js';
import { StreamLimits } from './transport/stream-limits.js';
import { sameSettings } from '../reload/changes.js';
import { NodeReachability } from './transport/node-reachability.js';
import { FloodLimiter } from './flood-limiter.js';
import { SipStats } from './sip-stats.js';

/** Transports this build can listen on; TLS, WS and WSS plug in here as listening point classes. */
const FACTORIES: Partial<Record<SipTransport, (opts: TransportOptions) => ListeningPoint>> = {
  udp: (opts) => new UdpListeningPoint(opts),
  tcp: (opts) => new TcpListeningPoint(opts),
  tls: (opts) => new TlsListeningPoint(opts, opts.tls!),
  ws: (opts) => new WsListeningPoint(opts),
  wss: (opts) => new WsListeningPoint(opts, opts.tls!),
};

export function createSipService(ctx: ServiceContext): Service {
  const { log } = ctx;
  let config = ctx.config;
  const sip = config.sip;
  const stats = new SipStats();
  ctx.stats.addProtocol(stats);
  const points: ListeningPoint[] = [];
  let forwarder: SipForwarder | undefined;
  let health: NodeHealthMonitor | undefined;
  let reachability: NodeReachability | undefined;
  const allowed = config.registry.nodeAllowedSources;
  const nodeSources = allowed.length > 0 ? NodeSources.of(allowed) : undefined;
  // Flood limits per client source: nodes and the node allow-list are exempt; the node side is never limited.
  const flood = sip.floodRequestsPerSecond > 0
    ? new FloodLimiter({
        requestsPerSecond: sip.floodRequestsPerSecond,
        banTimeMs: sip.floodBanTimeMs,
        maxSources: sip.floodMaxSources,
        exempt: (address) => ctx.registry.hasNodeAddress(address) || nodeSources?.allows(address) === true,
      })
    : undefined;
  stats.flood = flood;
  const onMessage = (msg: SipMessage, flow: Flow): void => {
    if (flood !== undefined && msg.isRequest && flow.local.side === 'external' && !flood.allows(flow.remoteAddress)) {
      stats.dropped.inc('flood');
      return;
    }
    // Until every point is bound and the forwarder knows their ports, a message is dropped (as if lost on the way).
    forwarder?.onMessage(msg, flow);
  };
  const streamLimits = new StreamLimits(sip.maxConnections, sip.messageTimeoutMs, stats, log);

  /** Builds one side's points on its IPv4 host, or (ipv6Host given) on ipv6Host with the IPv6 ports. */
  const build = (side: Side, ipv6Host?: string, into: ListeningPoint[] = points): void => {
    const ports = ipv6Host ? (side === 'external' ? sip.externalIpv6 : sip.internalIpv6) : side === 'external' ? sip.external : sip.internal;
    const host = ipv6Host ?? (side === 'external' ? config.externalHost : config.internalHost);
    for (const [transport, port] of Object.entries(ports) as [SipTransport, number | undefined][]) {
      if (port === undefined) continue;
      const factory = FACTORIES[transport];
      if (!factory) {
        log.warn(`SIP over ${transport} is not available in this version: ${side} port ${port} not opened`);
        continue;
      }
      into.push(
        factory({
          side,
          host,
          port,
          maxMessageSize: sip.maxMessageSize,
          idleTimeoutMs: sip.tcpIdleTimeoutMs,
          stats: stats,
          log,
          onMessage,
          tls: config.tls,
          streamLimits,
          onPeerUnreachable: (h, p, t, why) => reachability?.peerUnreachable(h, p, t, why),
        }),
      );
    }
  };

  return {
    name: 'sip forwarder',
    async start() {
      build('external');
      if (!sip.singleEntryMode) build('internal');
      if (config.ipv6Host) {
        // IPv6 beside IPv4: each side/transport becomes one dual-stack point for the forwarder.
        const v6: ListeningPoint[] = [];
        build('external', config.ipv6Host, v6);
        if (!sip.singleEntryMode) build('internal', config.ipv6Host, v6);
        points.splice(0, points.length, ...pairByFamily(points, v6));
      }
      if (points.length === 0) {
        log.warn('No SIP listening point configured: the SIP forwarder is idle');
        return;
      }
      try {
        health = createNodeHealthMonitor({ config, registry: ctx.registry, log });
      } catch (err) {
        throw new StartupError((err as Error).message);
      }
      health.start();
      for (const p of points) {
        try {
          await p.start();
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          throw new StartupError(`Cannot open the SIP ${p.side} ${p.transport} listening point ${p.host}:${p.port}: ${e.code ?? e.message}`);
        }
        for (const bound of p instanceof DualStackListeningPoint ? [p.v4, p.v6] : [p]) {
          const key = `${bound.side}${familyOf(bound.host) === 6 ? 'Ipv6' : ''}${CAP[bound.transport]}Port`;
          ctx.listeners?.add(key, bound.transport === 'udp' ? 'udp' : 'tcp', bound.host, bound.port);
        }
      }
      // Built once the points are bound: its Via, Record-Route and own-address checks use their real ports.
      forwarder = new SipForwarder({ config, registry: ctx.registry, algorithm: ctx.algorithm, stats: stats, log, health, nodeSources, relay: ctx.sipRelay }, points);
      // Fast failover: the UDP points that send to nodes keep a connected socket per node.
      const nodeSide = points.some((p) => p.side === 'internal') ? 'internal' : 'external';
      const monitor = health;
      reachability = new NodeReachability({
        registry: ctx.registry,
        udpPoints: points.filter((p) => p.side === nodeSide && p.transport === 'udp'),
        markBad: (node, reason) => monitor.markBadNow(node, reason),
        stats,
      });
      reachability.start();
      flood?.start();
      if (flood) log.info(`SIP flood limit: ${sip.floodRequestsPerSecond} requests/s per client source, banned for ${sip.floodBanTimeMs} ms over it`);
      ctx.sipRelay?.attach(onMessage, points);
      // The manual's start-up line, once per pair of ports (UDP and TCP usually share them).
      const groups = new Map<string, { external: string; internal: string; transports: SipTransport[] }>();
      for (const transport of new Set(points.map((p) => p.transport))) {
        const external = String(points.find((p) => p.side === 'external' && p.transport === transport)?.port ?? 'none');
        const internal = String(points.find((p) => p.side === 'internal' && p.transport === transport)?.port ?? 'none');
        const key = `${external}/${internal}`;
        const group = groups.get(key) ?? { external, internal, transports: [] };
        group.transports.push(transport);
        groups.set(key, group);
      }
      for (const g of groups.values()) {
        log.info(
          { transports: g.transports },
          `Sip Balancer started on external address ${config.externalHost}, external port : ${g.external}, internalPort : ${g.internal}` +
            (groups.size > 1 ? ` (${g.transports.join(', ')})` : ''),
        );
      }
      if (sip.singleEntryMode || !points.some((p) => p.side === 'internal')) log.info('SIP single entry point mode: nodes are told apart by their source address');
    },
    reload(next) {
      // Listening points, their limits and the balancer's addresses need a restart (kept by the reloader).
      if (health && !sameSettings(config.health, next.health)) health.reconfigure(next.health, next.health.quarantineMs);
      config = next;
      forwarder?.reload(next, health);
    },
    async stop() {
      // The composition root has logged "Stopping the sip forwarder" (the manual's line) already.
      reachability?.stop();
      reachability = undefined;
      flood?.stop();
      health?.stop();
      streamLimits.stop();
      health = undefined;
      for (const p of points) {
        log.info(`Removing the following Listening Point ${p.transport} ${p.host}:${p.port} (${p.side})`);
        await p.stop().catch((err: unknown) => log.warn({ err }, `Closing ${p.transport} ${p.host}:${p.port} failed`));
      }
      points.length = 0;
      log.info('Sip forwarder SIP stack stopped');
    },
  };
}
