// Two listeners of the configuration on one port of one address: an error at load time, named by the keys
// that set them, rather than EADDRINUSE at start-up.

import type { CommonConfig } from './common-section.js';
import type { PropertyReader } from './reader.js';
import { CAP, type SipSection } from './sip-section.js';
import type { HttpConfig, SipPorts, SipTransport, SmppConfig } from './types.js';

interface Binding {
  key: string;
  host: string;
  port: number;
  proto: 'udp' | 'tcp';
}

function checkPortClashes(r: PropertyReader, bindings: Binding[]): void {
  const seen = new Map<string, string>();
  const reported = new Set<string>();
  for (const b of bindings) {
    // Port 0 is any free port: two listeners on it get two ports.
    if (b.port === 0) continue;
    const id = `${b.proto}/${b.host}/${b.port}`;
    const other = seen.get(id);
    if (other && other !== b.key) {
      if (reported.has(`${b.key}/${other}`)) continue;
      reported.add(`${b.key}/${other}`);
      r.error(r.raw(b.key), b.key, `port ${b.port} on ${b.host} is already used by ${other}; each listener needs its own port`);
    } else {
      seen.set(id, b.key);
    }
  }
}

export function checkListenerClashes(r: PropertyReader, common: CommonConfig, { sip, portOrigin }: SipSection, http: HttpConfig, smpp: SmppConfig): void {
  const { host, ipv6Host, externalHost, internalHost } = common;
  const heartbeatPort = common.registry.heartbeatPort;
  const statisticPort = common.api.port;
  const sipBindings = (side: string, bindHost: string, ports: SipPorts): Binding[] =>
    Object.entries(ports).map(([t, port]) => {
      const key = `${side}${CAP[t as SipTransport]}Port`;
      return { key: portOrigin.get(key) ?? key, host: bindHost, port: port!, proto: t === 'udp' ? ('udp' as const) : ('tcp' as const) };
    });
  checkPortClashes(r, [
    ...sipBindings('external', externalHost, sip.external),
    ...(sip.singleEntryMode ? [] : sipBindings('internal', internalHost, sip.internal)),
    ...(ipv6Host ? [...sipBindings('externalIpv6', ipv6Host, sip.externalIpv6), ...sipBindings('internalIpv6', ipv6Host, sip.internalIpv6)] : []),
    ...(heartbeatPort !== undefined ? [{ key: 'heartbeatPort', host: internalHost, port: heartbeatPort, proto: 'tcp' as const }] : []),
    ...(statisticPort !== undefined ? [{ key: 'statisticPort', host, port: statisticPort, proto: 'tcp' as const }] : []),
    ...(http.port !== undefined ? [{ key: 'httpPort', host: http.host, port: http.port, proto: 'tcp' as const }] : []),
    ...(http.httpsPort !== undefined ? [{ key: 'httpsPort', host: http.host, port: http.httpsPort, proto: 'tcp' as const }] : []),
    ...(smpp.port !== undefined ? [{ key: 'smppPort', host: smpp.externalHost, port: smpp.port, proto: 'tcp' as const }] : []),
    ...(smpp.sslPort !== undefined ? [{ key: 'smppSslPort', host: smpp.externalHost, port: smpp.sslPort, proto: 'tcp' as const }] : []),
  ]);
}
