// The SIP section of lb.properties: listening points per side and transport (with the original's legacy
// keys), IP load balancers in front, extra nodes and the forwarder's behaviour switches.

import { isIP } from 'node:net';
import { isHostName, parseHostPorts } from './hosts.js';
import type { PropertyReader } from './reader.js';
import type { SipConfig, SipPorts, SipTransport } from './types.js';

/** How a transport is spelt inside a key name (externalTlsPort, internalIpLoadBalancerWsPort). */
export const CAP: Record<SipTransport, string> = { udp: 'Udp', tcp: 'Tcp', tls: 'Tls', ws: 'Ws', wss: 'Wss' };

export interface SipSection {
  readonly sip: SipConfig;
  /** The key each listening point came from (`externalTlsPort` → `externalSecurePort`), for messages about it. */
  readonly portOrigin: ReadonlyMap<string, string>;
}

export function readSipSection(r: PropertyReader, ipv6Host: string | undefined): SipSection {
  const isTransportWs = r.bool('isTransportWs', false);
  const transportChoices = ['UDP', 'TCP', 'TLS', 'WS', 'WSS'] as const;
  const externalTransportChoice = r.choice('externalTransport', transportChoices, undefined);
  const internalTransportChoice = r.choice('internalTransport', transportChoices, undefined);

  /** Which key each listening point came from, for messages about it. */
  const portOrigin = new Map<string, string>();
  /** Reads one side's ports: legacy <side>Port/<side>SecurePort, then per-transport keys override. */
  const readPorts = (side: 'external' | 'internal', defaultPort: number | undefined, infix = ''): SipPorts => {
    const ports: Partial<Record<SipTransport, number>> = {};
    const origin = (t: SipTransport, key: string): void => void portOrigin.set(`${side}${infix}${CAP[t]}Port`, key);
    // The default listening point applies only when the file sets none of this side's port keys.
    const keys = [`${side}${infix}Port`, `${side}${infix}SecurePort`, ...(['udp', 'tcp', 'tls', 'ws', 'wss'] as const).map((t) => `${side}${infix}${CAP[t]}Port`)];
    const legacy = r.listenPort(`${side}${infix}Port`, keys.some((k) => r.has(k)) ? undefined : defaultPort);
    const legacySecure = r.listenPort(`${side}${infix}SecurePort`);
    const legacyKey = `${side}${infix}Port`;
    const secureKey = `${side}${infix}SecurePort`;
    if (legacy !== undefined) {
      ports.udp = legacy;
      origin('udp', legacyKey);
      const stream = isTransportWs ? 'ws' : 'tcp';
      ports[stream] = legacy;
      origin(stream, legacyKey);
    }
    if (legacySecure !== undefined) {
      const secure = isTransportWs ? 'wss' : 'tls';
      ports[secure] = legacySecure;
      origin(secure, secureKey);
    }
    for (const t of ['udp', 'tcp', 'tls', 'ws', 'wss'] as const) {
      const key = `${side}${infix}${CAP[t]}Port`;
      if (r.has(key)) {
        const v = r.listenPort(key);
        if (v === undefined) delete ports[t];
        else ports[t] = v;
        origin(t, key);
      } else {
        r.raw(key);
      }
    }
    return ports;
  };
  const external = readPorts('external', 5060);
  const internal = readPorts('internal', undefined);
  const externalIpv6 = ipv6Host ? { ...external, ...readPorts('external', undefined, 'Ipv6') } : readPorts('external', undefined, 'Ipv6');
  const internalIpv6 = ipv6Host ? { ...internal, ...readPorts('internal', undefined, 'Ipv6') } : readPorts('internal', undefined, 'Ipv6');
  const singleEntryMode = Object.keys(internal).length === 0;
  if (Object.keys(external).length === 0) r.error(undefined, 'externalPort', 'no external SIP listening point is left: set externalPort or an external<Transport>Port');

  const readIpLb = (side: 'external' | 'internal'): { address: string; ports: SipPorts } | undefined => {
    const addrKey = `${side}IpLoadBalancerAddress`;
    const address = r.string(addrKey);
    const ports: Partial<Record<SipTransport, number>> = {};
    const legacy = r.port(`${side}IpLoadBalancerPort`);
    const legacySecure = r.port(`${side}SecureIpLoadBalancerPort`);
    if (legacy !== undefined) Object.assign(ports, { udp: legacy, tcp: legacy });
    if (legacySecure !== undefined) ports.tls = legacySecure;
    for (const t of ['udp', 'tcp', 'tls', 'ws', 'wss'] as const) {
      const v = r.port(`${side}IpLoadBalancer${CAP[t]}Port`);
      if (v !== undefined) ports[t] = v;
    }
    if (address === undefined) return undefined;
    const p = r.raw(addrKey);
    if (!isHostName(address)) r.error(p, addrKey, 'expected an IP address or host name');
    if (Object.keys(ports).length === 0) r.error(p, addrKey, `an IP load balancer address needs its port: set ${side}IpLoadBalancerPort (or ${side}IpLoadBalancerUdpPort, …)`);
    return { address, ports };
  };
  const externalIpLoadBalancer = readIpLb('external');
  const internalIpLoadBalancer = readIpLb('internal');

  const extraRaw = r.raw('extraServerNodes');
  const extraServerNodes = parseHostPorts(r, 'extraServerNodes', r.list('extraServerNodes'), 5060, extraRaw);
  const performanceTestingMode = r.bool('performanceTestingMode', false);
  if (performanceTestingMode && extraServerNodes.length === 0) r.warn(r.raw('performanceTestingMode'), 'performanceTestingMode', 'has no effect without extraServerNodes');

  const terminateTLSTraffic = r.bool('terminateTLSTraffic', false);
  // internalTransport only changes the internal leg of TLS/WSS clients (the original's meaning); UDP/TCP/WS here.
  const internalTransport = internalTransportChoice?.toLowerCase() as SipTransport | undefined;

  const sip: SipConfig = {
    external,
    internal,
    externalIpv6: ipv6Host ? externalIpv6 : {},
    internalIpv6: ipv6Host ? internalIpv6 : {},
    singleEntryMode,
    externalIpLoadBalancer,
    internalIpLoadBalancer,
    useIpLoadBalancerAddressInViaHeaders: r.bool('useIpLoadBalancerAddressInViaHeaders', false),
    publicIp: r.string('publicIp', undefined, ['public-ip']),
    publicIpv6: r.string('publicIpv6'),
    externalTransport: externalTransportChoice?.toLowerCase() as SipTransport | undefined,
    extraServerNodes,
    performanceTestingMode,
    isSendTrying: r.bool('isSendTrying', true),
    isSend5xxResponse: r.bool('isSend5xxResponse', false),
    isSend5xxResponseReasonHeader: r.string('isSend5xxResponseReasonHeader'),
    isSend5xxResponseStatusCode: r.int('isSend5xxResponseSatusCode', 503, { min: 500, max: 599, aliases: ['isSend5xxResponseStatusCode'] }),
    retryAfterSeconds: r.int('noNodeRetryAfter', 5, { min: 0, max: 86_400, unit: 'seconds' }),
    maxMessageSize: r.int('maxSipMessageSize', 65_536, { min: 1024, max: 16 * 1024 * 1024, unit: 'bytes' }),
    tcpIdleTimeoutMs: r.int('sipConnectionIdleTimeout', 300_000, { min: 1000, unit: 'milliseconds' }),
    maxConnections: r.int('sipMaxConnections', 10_000, { min: 0 }),
    messageTimeoutMs: r.int('sipMessageTimeout', 10_000, { min: 0, unit: 'milliseconds' }),
    floodRequestsPerSecond: r.int('floodRequestsPerSecond', 0, { min: 0 }),
    floodBanTimeMs: r.int('floodBanTime', 60_000, { min: 1000, unit: 'milliseconds' }),
    floodMaxSources: r.int('floodMaxSources', 10_000, { min: 100, max: 10_000_000 }),
    terminateTLSTraffic,
    internalTransport,
    blockedValues: r.list('blockedValues', ['sipvicious', 'sipcli', 'friendly-scanner']).map((s) => s.toLowerCase()),
    matchingHostnameForRoute: r.string('matchingHostnameForRoute'),
    isFilterSubdomain: r.bool('isFilterSubdomain', false),
    isUseWithNexmo: r.bool('isUseWithNexmo', false),
  };

  // Keys that act only together with another: say so rather than surprise.
  if (sip.publicIp !== undefined && isIP(sip.publicIp) !== 4) r.error(r.raw('publicIp', ['public-ip']), 'publicIp', 'expected an IPv4 address (publicIpv6 takes the IPv6 one)');
  if (sip.publicIpv6 !== undefined && isIP(sip.publicIpv6) !== 6) r.error(r.raw('publicIpv6'), 'publicIpv6', 'expected an IPv6 address');
  if (!sip.isSend5xxResponse) {
    for (const key of ['isSend5xxResponseReasonHeader', 'isSend5xxResponseSatusCode'] as const) {
      const p = r.raw(key, key === 'isSend5xxResponseSatusCode' ? ['isSend5xxResponseStatusCode'] : []);
      if (p) r.warn(p, p.key, 'has no effect without isSend5xxResponse=true (a node that cannot be reached is answered 503 with Retry-After)');
    }
  }
  if (sip.floodRequestsPerSecond === 0) {
    for (const key of ['floodBanTime', 'floodMaxSources'] as const) {
      const p = r.raw(key);
      if (p) r.warn(p, key, 'has no effect without floodRequestsPerSecond (0: no flood limit)');
    }
  }
  if (sip.externalIpLoadBalancer && sip.publicIp !== undefined) r.warn(r.raw('publicIp', ['public-ip']), 'publicIp', 'externalIpLoadBalancerAddress is what clients reach: Record-Route names it, not publicIp');

  return { sip, portOrigin };
}
