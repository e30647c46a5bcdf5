// lb.properties → a typed, validated, frozen Config. Every key of the manual's sample files and of the
// original's code is read here (with its default and legacy aliases); unknown keys are warnings.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseLines, type Pair } from 'dot-properties';
import { PropertyReader, type RawProperty } from './reader.js';
import { readIdentity, readTrustedCertificates } from './keystore.js';
import { resolveAlgorithmName, supportedAlgorithmNames } from '../algorithms/names.js';
import { parseSubclusterMap } from '../algorithms/cluster-subdomain-affinity.js';
import { normaliseLogLevel } from '../log.js';
import { parseStaticNode, parseStatusRanges } from '../registry/static-nodes.js';
import { parseSourceEntry } from '../registry/node-sources.js';
import { DEFAULT_MAX_ENTRIES } from '../algorithms/affinity-table.js';
import { ConfigError } from '../errors.js';
import type { Config, HostPort, SipPorts, SipTransport, TlsConfig, TlsMaterial } from './types.js';

// Re-exported for callers that imported it from here; it lives in errors.ts.
export { ConfigError };

export interface LoadedConfig {
  readonly config: Config;
  /** Problems that do not stop start-up (unknown keys, keys without effect here). */
  readonly warnings: readonly string[];
  /** Keys accepted but not applicable (JAIN SIP stack tuning), for one debug line. */
  readonly notApplicable: readonly string[];
}

/** Parses properties text (java.util.Properties syntax) into key → value and line number (last one wins). */
export function parseProperties(text: string): { props: Map<string, RawProperty>; duplicates: { key: string; lines: number[] }[] } {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const lineOf = (offset: number): number => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const props = new Map<string, RawProperty>();
  const seen = new Map<string, number[]>();
  for (const node of parseLines(text, true)) {
    if (node.type !== 'PAIR') continue;
    const pair = node as Required<Pair>;
    const line = lineOf(pair.range[0]);
    props.set(pair.key, { value: pair.value, line });
    seen.set(pair.key, [...(seen.get(pair.key) ?? []), line]);
  }
  const duplicates = [...seen].filter(([, lines]) => lines.length > 1).map(([key, lines]) => ({ key, lines }));
  return { props, duplicates };
}

/** Keys the original reads that have no meaning for this daemon: accepted, with the reason. */
const WITHOUT_EFFECT: Readonly<Record<string, string>> = {
  rmiRegistryPort: 'RMI heartbeats are Java-only; nodes register with the JSON heartbeat on heartbeatPort or SIP OPTIONS/INFO heartbeats on an internal SIP port',
  rmiRemoteObjectPort: 'RMI heartbeats are Java-only; nodes register with the JSON heartbeat on heartbeatPort or SIP OPTIONS/INFO heartbeats on an internal SIP port',
  jmxHtmlAdapterPort: 'there is no JMX here; statistics are on statisticPort (/lbstat, /metrics)',
  persistentConsistentHashCacheConfiguration: 'the JBoss Cache/Infinispan store is replaced by affinityStore=redis://host:port',
  logConfigFile: 'logging is configured with logLevel and --log-level / --log-format',
  responseReasonNodeRemoval: 'the original never used it',
  removeNodesOn500Response: 'the original never used it; use responsesStatusCodeNodeRemoval',
  usePrettyEncoding: 'messages are forwarded byte for byte',
  nonBlockingSocketsEnabled: 'all sockets are non-blocking in Node.js',
  defaultSessionCountersEnabled: 'SMPP counters are always on (/lbstat, /metrics)',
  maxContentLength: 'HTTP bodies are streamed, never buffered whole',
  smppName: 'informational only',
  toNodeAlgorithmClass: 'SMPP regular mode routes each ESME to its own upstream connection',
  isUseRrSendSmppRequestToClient: 'SMPP regular mode relays to the ESME that owns the connection',
  earlyDialogWorstCase: 'the WorstCaseUdpTestAffinityAlgorithm test algorithm is not provided',
  'java.net.debug': 'use --log-level debug',
  'javax.net.debug': 'use --log-level debug',
  'javax.net.ssl.keyStoreType': 'the keystore format is recognised by content',
  'javax.net.ssl.trustStoreType': 'the trust store format is recognised by content',
};

/** Keys that algorithms and plug-ins read from config.properties themselves (not warned as unknown). */
const ALGORITHM_KEYS = [
  'userAffinityMaxTimeInCache', 'userAffinityGroupFailover', 'affinityStoreKeyPrefix', 'weight',
];

const TLS_PROTOCOLS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
type TlsProtocol = (typeof TLS_PROTOCOLS)[number];
const CAP: Record<SipTransport, string> = { udp: 'Udp', tcp: 'Tcp', tls: 'Tls', ws: 'Ws', wss: 'Wss' };

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

function closest(key: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const k = key.toLowerCase();
  for (const cand of known) {
    const d = levenshtein(k, cand.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = cand;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 5)) ? best : undefined;
}

function isHostName(v: string): boolean {
  if (isIP(v)) return true;
  return /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/.test(v) && v.length <= 253;
}

/** Parses `host[:port]` (or `[v6]:port`) entries. */
function parseHostPorts(r: PropertyReader, key: string, items: string[], defaultPort: number | undefined, p: RawProperty | undefined): HostPort[] {
  const out: HostPort[] = [];
  for (const item of items) {
    let host = item;
    let port = defaultPort;
    const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(item);
    if (v6) {
      host = v6[1]!;
      port = v6[2] !== undefined ? Number(v6[2]) : defaultPort;
    } else if (item.split(':').length === 2) {
      const [h, ps] = item.split(':') as [string, string];
      host = h;
      port = /^\d+$/.test(ps) ? Number(ps) : NaN;
    }
    if (!isHostName(host) || port === undefined || !(port >= 1 && port <= 65535)) {
      r.error(p ? { key, value: p.value, line: p.line } : undefined, key, `"${item}" is not host:port${defaultPort ? ` (or a host, port ${defaultPort})` : ''}`);
      continue;
    }
    out.push({ host, port });
  }
  return out;
}

function tlsRank(p: TlsProtocol): number {
  return TLS_PROTOCOLS.indexOf(p);
}

export function loadConfigFile(file: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError([`${file}: cannot read the configuration file: ${e.code === 'ENOENT' ? 'no such file' : e.message}`]);
  }
  return loadConfigText(text, file);
}

/** Builds the Config from properties text; throws ConfigError with one line per problem. */
export function loadConfigText(text: string, file = 'lb.properties'): LoadedConfig {
  const { props, duplicates } = parseProperties(text);
  const r = new PropertyReader(file, props);

  // --- Common -----------------------------------------------------------------------------------------
  const host = r.string('host', '127.0.0.1')!;
  const ipv6Host = r.string('ipv6Host');
  const externalHost = r.string('externalHost', host)!;
  const internalHost = r.string('internalHost', host)!;
  for (const [key, v] of [['host', host], ['externalHost', externalHost], ['internalHost', internalHost]] as const) {
    // externalHost/internalHost default to host: report a bad value once, where it was written.
    if (!isHostName(v) && (key === 'host' || r.has(key))) r.error(r.raw(key), key, 'expected an IP address or host name');
  }
  if (ipv6Host !== undefined && isIP(ipv6Host) !== 6) r.error(r.raw('ipv6Host'), 'ipv6Host', 'expected an IPv6 address such as ::1');
  const logLevelRaw = r.string('logLevel', 'info', ['LogLevel'])!;
  const logLevel = normaliseLogLevel(logLevelRaw);
  if (!logLevel) r.error({ key: 'logLevel', value: logLevelRaw, line: r.raw('logLevel', ['LogLevel'])?.line ?? 0 }, 'logLevel', 'expected one of fatal, error, warn, info, debug, trace, silent');
  const shutdownTimeoutMs = r.int('shutdownTimeout', 10_000, { min: 0, unit: 'milliseconds' });
  const nodeTimeoutMs = r.int('nodeTimeout', 8400, { min: 15, unit: 'milliseconds' });
  const heartbeatIntervalMs = r.int('heartbeatInterval', 150, { min: 15, unit: 'milliseconds' });
  const heartbeatPort = r.port('heartbeatPort', 2610);
  const statisticPort = r.port('statisticPort', 2006, ['apiPort']);
  const securityRequired = r.bool('securityRequired', false);
  const login = r.string('login');
  const password = r.string('password');
  if (securityRequired && (!login || !password)) r.error(undefined, 'securityRequired', 'securityRequired=true needs login and password');
  // The node side's gate (issue 10): who may send heartbeats and node-side SIP traffic.
  const nodeAllowedSources = r.list('nodeAllowedSources');
  for (const s of nodeAllowedSources) {
    if (!parseSourceEntry(s)) r.error(r.raw('nodeAllowedSources'), 'nodeAllowedSources', `"${s}" is not an IP address or CIDR (e.g. 10.0.0.0/8, 192.0.2.7, fd00::/8)`);
  }

  // --- SIP listening points ---------------------------------------------------------------------------
  const isTransportWs = r.bool('isTransportWs', false);
  const transportChoices = ['UDP', 'TCP', 'TLS', 'WS', 'WSS'] as const;
  r.choice('externalTransport', transportChoices, undefined);
  const internalTransportChoice = r.choice('internalTransport', transportChoices, undefined);

  /** Reads one side's ports: legacy <side>Port/<side>SecurePort, then per-transport keys override. */
  /** Which key each listening point came from, for messages about it. */
  const portOrigin = new Map<string, string>();
  const readPorts = (side: 'external' | 'internal', defaultPort: number | undefined, infix = ''): SipPorts => {
    const ports: Partial<Record<SipTransport, number>> = {};
    const origin = (t: SipTransport, key: string): void => void portOrigin.set(`${side}${infix}${CAP[t]}Port`, key);
    // The default listening point applies only when the file sets none of this side's port keys.
    const keys = [`${side}${infix}Port`, `${side}${infix}SecurePort`, ...(['udp', 'tcp', 'tls', 'ws', 'wss'] as const).map((t) => `${side}${infix}${CAP[t]}Port`)];
    const legacy = r.port(`${side}${infix}Port`, keys.some((k) => r.has(k)) ? undefined : defaultPort);
    const legacySecure = r.port(`${side}${infix}SecurePort`);
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
        const v = r.port(key);
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

  const sip = {
    external,
    internal,
    externalIpv6: ipv6Host ? externalIpv6 : {},
    internalIpv6: ipv6Host ? internalIpv6 : {},
    singleEntryMode,
    externalIpLoadBalancer,
    internalIpLoadBalancer,
    useIpLoadBalancerAddressInViaHeaders: r.bool('useIpLoadBalancerAddressInViaHeaders', false),
    publicIp: r.string('publicIp', undefined, ['public-ip']),
    extraServerNodes,
    performanceTestingMode,
    isSendTrying: r.bool('isSendTrying', true),
    isSend5xxResponse: r.bool('isSend5xxResponse', false),
    isSend5xxResponseReasonHeader: r.string('isSend5xxResponseReasonHeader'),
    isSend5xxResponseStatusCode: r.int('isSend5xxResponseSatusCode', 503, { min: 500, max: 599, aliases: ['isSend5xxResponseStatusCode'] }),
    retryAfterSeconds: r.int('noNodeRetryAfter', 5, { min: 0, max: 86_400, unit: 'seconds' }),
    maxMessageSize: r.int('maxSipMessageSize', 65_536, { min: 1024, max: 16 * 1024 * 1024, unit: 'bytes' }),
    tcpIdleTimeoutMs: r.int('sipConnectionIdleTimeout', 300_000, { min: 1000, unit: 'milliseconds' }),
    terminateTLSTraffic,
    internalTransport,
    blockedValues: r.list('blockedValues', ['sipvicious', 'sipcli', 'friendly-scanner']).map((s) => s.toLowerCase()),
    matchingHostnameForRoute: r.string('matchingHostnameForRoute'),
    isFilterSubdomain: r.bool('isFilterSubdomain', false),
    isUseWithNexmo: r.bool('isUseWithNexmo', false),
  };

  // Keys of the original that this version reads but does not act on yet: say so rather than surprise.
  for (const key of ['isSend5xxResponse', 'isUseWithNexmo'] as const) {
    const p = r.raw(key);
    if (p && /^(true|yes|on|1)$/i.test(p.value.trim())) r.warn(p, key, 'not implemented yet: a failed send to a node is retried once on the next node, then answered 503 with Retry-After');
  }
  if (sip.publicIp !== undefined) r.warn(r.raw('publicIp', ['public-ip']), 'publicIp', 'not implemented yet: Record-Route and Contact of responses are not rewritten to the public address (use externalIpLoadBalancerAddress for Record-Route)');

  // --- Static nodes probed with OPTIONS (src/registry/probe.ts) -----------------------------------------
  const staticRaw = r.raw('staticNodes');
  const staticNodes = r.list('staticNodes').flatMap((item) => {
    const parsed = parseStaticNode(item);
    if (typeof parsed === 'string') {
      r.error(staticRaw, 'staticNodes', `${parsed}; expected host:port[;transport=udp|tcp|tls][;version=v], comma-separated`);
      return [];
    }
    return [parsed];
  });
  const aliveRaw = r.raw('nodeProbeAliveStatuses');
  const aliveParsed = parseStatusRanges(aliveRaw?.value ?? '200-499');
  if (typeof aliveParsed === 'string') r.error(aliveRaw, 'nodeProbeAliveStatuses', aliveParsed);
  r.sources.push(aliveRaw ? { key: 'nodeProbeAliveStatuses', value: aliveRaw.value, source: 'file', line: aliveRaw.line } : { key: 'nodeProbeAliveStatuses', value: '200-499', source: 'default' });
  const probe = {
    staticNodes,
    intervalMs: r.int('nodeProbeInterval', 5000, { min: 100, unit: 'milliseconds' }),
    timeoutMs: r.int('nodeProbeTimeout', 2000, { min: 10, unit: 'milliseconds' }),
    failures: r.int('nodeProbeFailures', 3, { min: 1, max: 100 }),
    successes: r.int('nodeProbeSuccesses', 2, { min: 1, max: 100 }),
    aliveStatuses: typeof aliveParsed === 'string' ? [] : aliveParsed,
  };
  if (probe.timeoutMs >= probe.intervalMs) r.error(r.raw('nodeProbeTimeout'), 'nodeProbeTimeout', `must be shorter than nodeProbeInterval (${probe.intervalMs} ms)`);

  // --- Node health from traffic -----------------------------------------------------------------------
  const statusList = r.list('responsesStatusCodeNodeRemoval', ['503'], ['responseStatusCodeNodeRemoval']);
  const statusRaw = r.raw('responsesStatusCodeNodeRemoval', ['responseStatusCodeNodeRemoval']);
  const responsesStatusCodeNodeRemoval = statusList.map(Number).filter((n, i) => {
    const ok = Number.isInteger(n) && n >= 100 && n <= 699;
    if (!ok) r.error(statusRaw, 'responsesStatusCodeNodeRemoval', `"${statusList[i]}" is not a SIP status code (100–699)`);
    return ok;
  });
  const health = {
    maxRequestNumberWithoutResponse: r.optionalInt('maxRequestNumberWithoutResponse', { min: 1 }),
    maxResponseTimeMs: r.optionalInt('maxResponseTime', { min: 1, unit: 'milliseconds' }),
    responsesStatusCodeNodeRemoval,
    maxNumberResponsesWithError: r.int('maxNumberResponsesWithError', 5, { min: 1 }),
    maxErrorTimeMs: r.int('maxErrorTime', 300_000, { min: 1, unit: 'milliseconds' }),
  };

  // --- Algorithm --------------------------------------------------------------------------------------
  const algoRaw = r.raw('algorithmClass');
  const resolved = resolveAlgorithmName(algoRaw?.value ?? '');
  let algorithmName = 'call-id-affinity';
  let custom = false;
  if (resolved.kind === 'built-in') algorithmName = resolved.name;
  else if (resolved.kind === 'module') {
    algorithmName = resolved.specifier;
    custom = true;
  } else {
    r.error(algoRaw, 'algorithmClass', `${resolved.reason}; expected one of ${supportedAlgorithmNames()}`);
  }
  r.sources.push(algoRaw ? { key: 'algorithmClass', value: algorithmName, source: 'file', line: algoRaw.line } : { key: 'algorithmClass', value: algorithmName, source: 'default' });
  const subclusterRaw = r.raw('subclusterMap');
  const subclusterMap = subclusterRaw ? parseSubclusterMapValue(r, subclusterRaw) : [];
  const affinityStore = r.string('affinityStore');
  if (affinityStore !== undefined && !/^(redis|rediss):\/\/[^/\s]+/.test(affinityStore) && affinityStore !== 'memory') {
    r.error(r.raw('affinityStore'), 'affinityStore', 'expected memory or redis://host:port');
  }
  const algorithm = {
    name: algorithmName,
    custom,
    callIdAffinityMaxTimeInCacheSeconds: r.int('callIdAffinityMaxTimeInCache', 500, { min: 0, unit: 'seconds' }),
    callIdAffinityMaxEntries: r.int('callIdAffinityMaxEntries', DEFAULT_MAX_ENTRIES, { min: 1 }),
    callIdAffinityGroupFailover: r.bool('callIdAffinityGroupFailover', false),
    sipHeaderAffinityKey: r.string('sipHeaderAffinityKey', 'Call-ID')!,
    sipHeaderAffinityExclusionPattern: r.regex('sipHeaderAffinityExclusionPattern', ['sipHeaderAffinityKeyExclusionPattern']),
    sipHeaderAffinityFallbackKey: r.string('sipHeaderAffinityFallbackKey', 'Call-ID')!,
    httpAffinityKey: r.string('httpAffinityKey', 'appsession')!,
    subclusterMap,
    trafficRampupCyclePeriodMs: r.optionalInt('trafficRampupCyclePeriod', { min: 1, unit: 'milliseconds' }),
    trafficPercentageIncrease: r.optionalInt('trafficPercentageIncrease', { min: 1, max: 100, unit: 'percent' }),
    affinityStore: affinityStore === 'memory' ? undefined : affinityStore,
  };
  // Read by the algorithms from config.properties; validated here so a bad value stops start-up with its line.
  r.optionalInt('nodeQuarantine', { min: 0, unit: 'milliseconds' });
  r.optionalInt('hashRingVirtualNodes', { min: 1, max: 100_000 });
  r.optionalInt('affinityStoreTimeout', { min: 1, unit: 'milliseconds' });
  r.optionalInt('affinityStoreTtl', { min: 1, unit: 'seconds' });
  r.bool('activeStandbyFailback', false);
  if ((algorithm.trafficRampupCyclePeriodMs === undefined) !== (algorithm.trafficPercentageIncrease === undefined)) {
    r.warn(undefined, 'trafficRampupCyclePeriod', 'slow start needs both trafficRampupCyclePeriod and trafficPercentageIncrease; it stays off');
  }

  // --- HTTP ---------------------------------------------------------------------------------------------
  const http = {
    port: r.port('httpPort', 2080),
    httpsPort: r.port('httpsPort'),
    host: r.string('httpHost', host)!,
    unavailableHost: r.string('unavailableHost'),
    isRemoteServerSsl: r.bool('isRemoteServerSsl', false),
    httpsRedirect: r.bool('httpsRedirect', false),
    requestCheckPattern: r.regex('requestCheckPattern'),
    fastPath: r.bool('httpFastPath', true),
  };

  // --- SMPP ---------------------------------------------------------------------------------------------
  const smppHost = r.string('smppHost', host)!;
  const remoteRaw = r.raw('remoteServers');
  const smppPort = r.port('smppPort');
  const smppSslPort = r.port('smppSslPort');
  const smpp = {
    port: smppPort,
    sslPort: smppSslPort,
    externalHost: r.string('smppExternalHost', smppHost)!,
    internalHost: r.string('smppInternalHost'),
    remoteServers: parseHostPorts(r, 'remoteServers', r.list('remoteServers'), undefined, remoteRaw),
    isRemoteServerSsl: http.isRemoteServerSsl,
    maxPduSize: r.int('smppMaxPduSize', 65_536, { min: 64, max: 16 * 1024 * 1024, unit: 'bytes' }),
    timeoutResponseMs: r.int('timeoutResponse', 3000, { min: 1, unit: 'milliseconds' }),
    timeoutConnectionMs: r.int('timeoutConnection', 1000, { min: 1, unit: 'milliseconds' }),
    timeoutEnquireMs: r.int('timeoutEnquire', 10_000, { min: 1, unit: 'milliseconds' }),
    reconnectPeriodMs: r.int('reconnectPeriod', 500, { min: 1, unit: 'milliseconds' }),
    timeoutConnectionCheckClientSideMs: r.int('timeoutConnectionCheckClientSide', 3000, { min: 1, unit: 'milliseconds' }),
    timeoutConnectionCheckServerSideMs: r.int('timeoutConnectionCheckServerSide', 3000, { min: 1, unit: 'milliseconds' }),
    maxConnectionSize: r.int('maxConnectionSize', 10, { min: 1 }),
    toProvider: readToProvider(r),
  };
  const muxRaw = r.raw('muxMode');
  if (muxRaw && r.bool('muxMode', false)) {
    r.warn(muxRaw, 'muxMode', 'mux mode is not available yet; each ESME gets its own upstream connection (the original\'s regular mode)');
  }
  if ((smppPort !== undefined || smppSslPort !== undefined) && smpp.remoteServers.length === 0) {
    r.warn(undefined, 'remoteServers', 'the SMPP broker has no remoteServers; it will use nodes that advertise an smppPort');
  }

  // --- TLS ----------------------------------------------------------------------------------------------
  const tls = readTls(r, {
    listenerKeys: [
      ...(['external', 'internal'] as const).flatMap((side) =>
        (['tls', 'wss'] as const).filter((t) => (side === 'external' ? external : internal)[t] !== undefined).map((t) => portOrigin.get(`${side}${CAP[t]}Port`) ?? `${side}${CAP[t]}Port`),
      ),
      ...(http.httpsPort !== undefined ? ['httpsPort'] : []),
      ...(smpp.sslPort !== undefined ? ['smppSslPort'] : []),
    ],
    outgoingTls: http.isRemoteServerSsl,
  });

  // --- Listening point clashes --------------------------------------------------------------------------
  const sipBindings = (side: string, bindHost: string, ports: SipPorts): Binding[] =>
    Object.entries(ports).map(([t, port]) => {
      const key = `${side}${CAP[t as SipTransport]}Port`;
      return { key: portOrigin.get(key) ?? key, host: bindHost, port: port!, proto: t === 'udp' ? ('udp' as const) : ('tcp' as const) };
    });
  checkPortClashes(r, [
    ...sipBindings('external', externalHost, external),
    ...(singleEntryMode ? [] : sipBindings('internal', internalHost, internal)),
    ...(ipv6Host ? [...sipBindings('externalIpv6', ipv6Host, sip.externalIpv6), ...sipBindings('internalIpv6', ipv6Host, sip.internalIpv6)] : []),
    ...(heartbeatPort !== undefined ? [{ key: 'heartbeatPort', host: internalHost, port: heartbeatPort, proto: 'tcp' as const }] : []),
    ...(statisticPort !== undefined ? [{ key: 'statisticPort', host, port: statisticPort, proto: 'tcp' as const }] : []),
    ...(http.port !== undefined ? [{ key: 'httpPort', host: http.host, port: http.port, proto: 'tcp' as const }] : []),
    ...(http.httpsPort !== undefined ? [{ key: 'httpsPort', host: http.host, port: http.httpsPort, proto: 'tcp' as const }] : []),
    ...(smpp.port !== undefined ? [{ key: 'smppPort', host: smpp.externalHost, port: smpp.port, proto: 'tcp' as const }] : []),
    ...(smpp.sslPort !== undefined ? [{ key: 'smppSslPort', host: smpp.externalHost, port: smpp.sslPort, proto: 'tcp' as const }] : []),
  ]);

  // --- Keys without effect, stack keys, unknown keys --------------------------------------------------------
  const notApplicable: string[] = [];
  for (const [key, p] of props) {
    if (r.known.has(key)) continue;
    if (Object.hasOwn(WITHOUT_EFFECT, key)) {
      r.known.add(key);
      if (key === 'rmiRegistryPort' || key === 'rmiRemoteObjectPort') {
        if (!r.warnings.some((w) => w.includes('RMI heartbeats'))) r.warn({ key, ...p }, key, `accepted but not used: ${WITHOUT_EFFECT[key]}`);
      } else {
        notApplicable.push(`${key} (${WITHOUT_EFFECT[key]})`);
      }
      continue;
    }
    if (key.startsWith('javax.sip.') || key.startsWith('gov.nist.')) {
      notApplicable.push(key);
      continue;
    }
    if (ALGORITHM_KEYS.includes(key)) continue;
    const suggestion = closest(key, [...r.known, ...Object.keys(WITHOUT_EFFECT)]);
    r.warn({ key, ...p }, key, `unknown key, ignored${suggestion ? ` (did you mean ${suggestion}?)` : ''}`);
  }
  for (const d of duplicates) {
    if (r.known.has(d.key)) r.warnings.push(`${file}:${d.lines.at(-1)}: ${d.key} is set ${d.lines.length} times (lines ${d.lines.join(', ')}); the last one is used`);
  }

  if (r.errors.length > 0) throw new ConfigError(r.errors, r.warnings);

  const properties: Record<string, string> = {};
  for (const [k, p] of props) properties[k] = p.value;

  const config: Config = deepFreeze({
    file,
    host,
    ipv6Host,
    externalHost,
    internalHost,
    logLevel: logLevel ?? 'info',
    shutdownTimeoutMs,
    registry: { nodeTimeoutMs, heartbeatIntervalMs, heartbeatPort, heartbeatHost: internalHost, nodeAllowedSources },
    probe,
    sip,
    health,
    algorithm,
    http,
    smpp,
    tls,
    api: { port: statisticPort, host, securityRequired, login, password },
    properties,
    sources: r.sources,
  });
  return { config, warnings: r.warnings, notApplicable };
}

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

/** The subclusterMap groups, with the algorithm's own parser (one parser, one set of rules). */
function parseSubclusterMapValue(r: PropertyReader, p: RawProperty): string[][] {
  try {
    return parseSubclusterMap(p.value);
  } catch (err) {
    r.error({ key: 'subclusterMap', ...p }, 'subclusterMap', (err as Error).message.replace(/^subclusterMap: /, ''));
    return [];
  }
}

function readTls(r: PropertyReader, need: { listenerKeys: string[]; outgoingTls: boolean }): TlsConfig {
  const ksRaw = r.raw('javax.net.ssl.keyStore', ['keyStore']);
  const ksPass = r.raw('javax.net.ssl.keyStorePassword', ['keyStorePassword'])?.value;
  const tsRaw = r.raw('javax.net.ssl.trustStore', ['trustStore']);
  const tsPass = r.raw('javax.net.ssl.trustStorePassword', ['trustStorePassword'])?.value;
  const allowLegacy = r.bool('tlsAllowLegacyProtocols', false);
  const skipServerVerification = r.bool('tlsSkipServerVerification', false);
  const ciphersList = r.list('enabledCipherSuites', [], ['gov.nist.javax.sip.ENABLED_CIPHER_SUITES']);
  const authRaw = r.raw('gov.nist.javax.sip.TLS_CLIENT_AUTH_TYPE', ['gov.nist.java.sip.TLS_CLIENT_AUTH_TYPE', 'tlsClientAuthType']);
  let clientAuth: TlsConfig['clientAuth'] = 'none';
  if (authRaw) {
    const v = authRaw.value.trim().toLowerCase();
    if (v === 'enabled') clientAuth = 'require';
    else if (v === 'want') clientAuth = 'request';
    else if (v === 'disabled' || v === 'disabledall' || v === '') clientAuth = 'none';
    else r.error(authRaw, authRaw.key, 'expected Enabled (require a client certificate), Want (request one), Disabled or DisabledAll');
  }
  r.sources.push(authRaw ? { key: 'TLS_CLIENT_AUTH_TYPE', value: clientAuth, source: 'file', line: authRaw.line } : { key: 'TLS_CLIENT_AUTH_TYPE', value: clientAuth, source: 'default' });

  let minVersion: TlsProtocol = 'TLSv1.2';
  const protoRaw = r.raw('gov.nist.javax.sip.TLS_CLIENT_PROTOCOLS', ['gov.nist.java.sip.TLS_CLIENT_PROTOCOLS', 'tlsClientProtocols']);
  if (protoRaw) {
    const asked = protoRaw.value.split(',').map((s) => s.trim()).filter(Boolean);
    const valid: TlsProtocol[] = [];
    for (const a of asked) {
      const match = TLS_PROTOCOLS.find((t) => t.toLowerCase() === a.toLowerCase());
      if (match) valid.push(match);
      else r.error(protoRaw, protoRaw.key, `"${a}" is not a TLS protocol; expected ${TLS_PROTOCOLS.join(', ')}`);
    }
    if (valid.length > 0) {
      const lowest = valid.reduce((a, b) => (tlsRank(a) <= tlsRank(b) ? a : b));
      if (tlsRank(lowest) < tlsRank('TLSv1.2') && !allowLegacy) {
        r.warn(protoRaw, protoRaw.key, `${lowest} is obsolete (RFC 8996); TLSv1.2 stays the minimum unless tlsAllowLegacyProtocols=true`);
      } else {
        minVersion = lowest;
      }
    }
  }
  r.sources.push({ key: 'tlsMinVersion', value: minVersion, source: protoRaw ? 'file' : 'default', line: protoRaw?.line });

  let material: TlsMaterial | undefined;
  // Outgoing TLS alone (isRemoteServerSsl) offers the keystore's certificate when one is set, for nodes and SMSCs that require one.
  const needIdentity = need.listenerKeys.length > 0 || (need.outgoingTls && ksRaw !== undefined && ksRaw.value.trim() !== '');
  const needTrust = needIdentity || need.outgoingTls;
  if (needIdentity) {
    if (!ksRaw || ksRaw.value.trim() === '') {
      r.error(undefined, 'javax.net.ssl.keyStore', `a TLS listener is enabled (${need.listenerKeys.join(', ')}) but no keystore is set: set javax.net.ssl.keyStore (PEM or PKCS#12) and javax.net.ssl.keyStorePassword`);
    } else {
      try {
        const identity = readIdentity(ksRaw.value.trim(), ksPass);
        material = { ...identity };
      } catch (err) {
        r.error(ksRaw, ksRaw.key, `${(err as Error).message} (needed by ${need.listenerKeys.length > 0 ? need.listenerKeys.join(', ') : 'isRemoteServerSsl'})`);
      }
    }
  }
  if (needTrust && tsRaw && tsRaw.value.trim() !== '') {
    try {
      material = { ...material, ca: readTrustedCertificates(tsRaw.value.trim(), tsPass) };
    } catch (err) {
      r.error(tsRaw, tsRaw.key, (err as Error).message);
    }
  }
  const ciphers = ciphersList.length > 0 ? ciphersList.join(':') : allowLegacy && tlsRank(minVersion) < tlsRank('TLSv1.2') ? 'DEFAULT@SECLEVEL=0' : undefined;
  return { material, clientAuth, minVersion, ciphers, skipServerVerification };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o) && !(o instanceof RegExp) && !Buffer.isBuffer(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}

/**
 * `toProviderAlgorithmClass`: how an ESME's upstream SMSC is chosen. The original's class names are matched on
 * their last segment (…RoundRobin…, …ActiveStandby…), as algorithmClass is; our short names work too.
 */
function readToProvider(r: PropertyReader): 'round-robin' | 'active-standby' {
  const raw = r.raw('toProviderAlgorithmClass');
  const value = raw?.value.trim() ?? '';
  const last = (value.split('.').pop() ?? '').toLowerCase().replace(/[^a-z]/g, '');
  const policy = value === '' || last.includes('roundrobin') ? 'round-robin' : last.includes('activestandby') ? 'active-standby' : undefined;
  if (policy === undefined) {
    r.error(raw, 'toProviderAlgorithmClass', `"${value}" is not an SMPP provider algorithm; expected round-robin or active-standby (or the original's class names)`);
  }
  r.sources.push(raw ? { key: 'toProviderAlgorithmClass', value: policy ?? value, source: 'file', line: raw.line } : { key: 'toProviderAlgorithmClass', value: 'round-robin', source: 'default' });
  return policy ?? 'round-robin';
}
