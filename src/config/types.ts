// The typed, validated configuration every part of the daemon reads. Built once from lb.properties by
// load.ts and frozen; nothing else parses properties.

export type SipTransport = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';
export const SIP_TRANSPORTS: readonly SipTransport[] = ['udp', 'tcp', 'tls', 'ws', 'wss'];

/** A port per SIP transport; a transport that is absent has no listening point. */
export type SipPorts = Readonly<Partial<Record<SipTransport, number>>>;

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export type TlsClientAuth = 'none' | 'request' | 'require';

/** Certificate material ready for tls.createSecureContext(). */
export interface TlsMaterial {
  /** PEM certificate chain, or undefined when the identity is a PKCS#12 bundle. */
  readonly cert?: string;
  readonly key?: string;
  readonly pfx?: Buffer;
  readonly passphrase?: string;
  /** Trusted CA certificates (PEM), from the trust store. Undefined means Node's default roots. */
  readonly ca?: string[];
  /** The trust store as a PKCS#12 bundle, when it was given in that form. */
  readonly caPfx?: Buffer;
}

export interface TlsConfig {
  /** Our identity (keystore) and the trust store, or undefined when no TLS listener needs them. */
  readonly material?: TlsMaterial;
  readonly clientAuth: TlsClientAuth;
  readonly minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL cipher list, from enabledCipherSuites, or undefined for Node's default. */
  readonly ciphers?: string;
  /** Skip verification of node/SMSC certificates on outgoing TLS (labs only; warned at start-up). */
  readonly skipServerVerification: boolean;
}

export interface SipConfig {
  /** Listening points for clients. */
  readonly external: SipPorts;
  /** Listening points for nodes; all absent means single-entry mode. */
  readonly internal: SipPorts;
  /** Same, on ipv6Host (when set). */
  readonly externalIpv6: SipPorts;
  readonly internalIpv6: SipPorts;
  readonly singleEntryMode: boolean;
  /** Address and ports of an IP load balancer in front of the external/internal side (for Record-Route, Via). */
  readonly externalIpLoadBalancer?: { readonly address: string; readonly ports: SipPorts };
  readonly internalIpLoadBalancer?: { readonly address: string; readonly ports: SipPorts };
  readonly useIpLoadBalancerAddressInViaHeaders: boolean;
  /** 1:1 NAT: the public addresses clients reach the balancer at (Record-Route, Contact). */
  readonly publicIp?: string;
  readonly publicIpv6?: string;
  /** Transport toward a client when a node's request names none (`externalTransport`); else the node leg's. */
  readonly externalTransport?: SipTransport;
  /** Hosts that count as nodes for direction analysis (`extraServerNodes`). */
  readonly extraServerNodes: readonly HostPort[];
  /** Register extraServerNodes as nodes that never expire. */
  readonly performanceTestingMode: boolean;
  readonly isSendTrying: boolean;
  readonly isSend5xxResponse: boolean;
  readonly isSend5xxResponseReasonHeader?: string;
  readonly isSend5xxResponseStatusCode: number;
  /** Retry-After seconds on 503 when no node is available. */
  readonly retryAfterSeconds: number;
  readonly maxMessageSize: number;
  readonly tcpIdleTimeoutMs: number;
  /** Inbound SIP stream connections (TCP, TLS, WS, WSS together); 0 = no limit. */
  readonly maxConnections: number;
  /** An unfinished message on a stream older than this closes its connection; 0 = never. */
  readonly messageTimeoutMs: number;
  /** SIP requests per second one client source address may send (floodRequestsPerSecond); 0 = no limit. */
  readonly floodRequestsPerSecond: number;
  /** How long a source over the limit stays banned (floodBanTime, ms). */
  readonly floodBanTimeMs: number;
  /** Client source addresses tracked at most (floodMaxSources). */
  readonly floodMaxSources: number;
  readonly terminateTLSTraffic: boolean;
  /** Transport forced on the internal leg (`internalTransport`), or undefined to keep the client's. */
  readonly internalTransport?: SipTransport;
  readonly blockedValues: readonly string[];
  readonly matchingHostnameForRoute?: string;
  readonly isFilterSubdomain: boolean;
  readonly isUseWithNexmo: boolean;
}

export interface HealthConfig {
  readonly maxRequestNumberWithoutResponse?: number;
  readonly maxResponseTimeMs?: number;
  readonly responsesStatusCodeNodeRemoval: readonly number[];
  readonly maxNumberResponsesWithError: number;
  readonly maxErrorTimeMs: number;
  /** How long a node marked bad from traffic stays out (`nodeQuarantine`); 0 = until it re-registers. */
  readonly quarantineMs: number;
}

export interface AlgorithmConfig {
  /** A built-in algorithm name (see algorithms/registry.ts) or a module specifier for a custom one. */
  readonly name: string;
  /** True when `name` is a path or package of a custom algorithm module. */
  readonly custom: boolean;
  readonly callIdAffinityMaxTimeInCacheSeconds: number;
  /** Most affinity entries kept (least recently used evicted first). */
  readonly callIdAffinityMaxEntries: number;
  readonly callIdAffinityGroupFailover: boolean;
  readonly sipHeaderAffinityKey: string;
  readonly sipHeaderAffinityExclusionPattern?: RegExp;
  readonly sipHeaderAffinityFallbackKey: string;
  readonly httpAffinityKey: string;
  /** Groups of node hosts for cluster-subdomain-affinity (read by that algorithm's own key reader). */
  readonly subclusterMap: readonly (readonly string[])[];
  /** Points per node on the hash ring of the consistent-hash algorithms (`hashRingVirtualNodes`). */
  readonly hashRingVirtualNodes: number;
  /** active-standby gives traffic back to the first node when it returns (`activeStandbyFailback`). */
  readonly activeStandbyFailback: boolean;
  readonly trafficRampupCyclePeriodMs?: number;
  readonly trafficPercentageIncrease?: number;
  /** `redis://host:port` for a shared affinity store, or undefined for in-memory. */
  readonly affinityStore?: string;
  readonly affinityStoreTimeoutMs: number;
  readonly affinityStoreTtlSeconds: number;
  readonly affinityStoreKeyPrefix?: string;
}

export interface HttpConfig {
  /** Undefined when switched off (`httpPort=`). */
  readonly port?: number;
  readonly httpsPort?: number;
  readonly host: string;
  readonly unavailableHost?: string;
  readonly isRemoteServerSsl: boolean;
  readonly httpsRedirect: boolean;
  readonly requestCheckPattern?: RegExp;
  /** `httpFastPath` (default true): plain HTTP/1.1 relayed by the balancer's own framing; false = node:http for all. */
  readonly fastPath: boolean;
}

export interface SmppConfig {
  /** Undefined means the SMPP broker is off. */
  readonly port?: number;
  readonly sslPort?: number;
  /** Address the broker listens on for ESMEs. */
  readonly externalHost: string;
  /** Local address upstream connections are bound to, if any. */
  readonly internalHost?: string;
  readonly remoteServers: readonly HostPort[];
  readonly isRemoteServerSsl: boolean;
  readonly maxPduSize: number;
  readonly timeoutResponseMs: number;
  readonly timeoutConnectionMs: number;
  readonly timeoutEnquireMs: number;
  readonly reconnectPeriodMs: number;
  readonly timeoutConnectionCheckClientSideMs: number;
  readonly timeoutConnectionCheckServerSideMs: number;
  readonly maxConnectionSize: number;
  /** `toProviderAlgorithmClass`: round robin over the SMSCs, or the first SMSC that binds, in list order. */
  readonly toProvider: 'round-robin' | 'active-standby';
  /** `muxMode` (default true, as the original): the ESMEs of one system_id share one transceiver bind per SMSC. */
  readonly muxMode: boolean;
  /** Mux mode: how many submit_sm message_ids are remembered to route delivery receipts back (`muxReceiptMemory`). */
  readonly muxReceiptMemory: number;
  /** Mux mode: how long one is remembered (`muxReceiptLifetime`). */
  readonly muxReceiptLifetimeMs: number;
}

export interface ApiConfig {
  /** Undefined when switched off (`statisticPort=`). */
  readonly port?: number;
  readonly host: string;
  readonly securityRequired: boolean;
  readonly login?: string;
  readonly password?: string;
}

export interface RegistryConfig {
  readonly nodeTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  /** JSON heartbeat port; undefined when switched off. */
  readonly heartbeatPort?: number;
  readonly heartbeatHost: string;
  /**
   * nodeAllowedSources: addresses and CIDRs (IPv4, IPv6) allowed to act as nodes (heartbeats, node-side SIP);
   * empty: any source that reaches the heartbeat or internal ports.
   */
  readonly nodeAllowedSources: readonly string[];
}

/** A SIP server that cannot heartbeat, probed with OPTIONS (`staticNodes`). */
export interface StaticNodeEntry {
  readonly host: string;
  readonly port: number;
  readonly transport: 'udp' | 'tcp' | 'tls';
  /** The node version it registers with (default 0), for clusters whose other nodes heartbeat a version. */
  readonly version: string;
}

export interface ProbeConfig {
  readonly staticNodes: readonly StaticNodeEntry[];
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Missed probes in a row before a node is out. */
  readonly failures: number;
  /** Answered probes in a row before an out node is back. */
  readonly successes: number;
  /** Status codes that count as alive (inclusive ranges). */
  readonly aliveStatuses: readonly (readonly [number, number])[];
}

/** Where a configuration value came from, for `--check`. */
export interface ValueSource {
  readonly key: string;
  readonly value: string;
  readonly source: 'file' | 'default';
  readonly line?: number;
}

export interface Config {
  readonly file: string;
  readonly host: string;
  readonly ipv6Host?: string;
  readonly externalHost: string;
  readonly internalHost: string;
  readonly logLevel: string;
  readonly shutdownTimeoutMs: number;
  /** How often the file is checked for a change to reload (`configReloadPeriod`); 0 = only on SIGHUP. */
  readonly configReloadPeriodMs: number;
  /** Processes serving the listening points (1: one process; more: a primary and that many workers). */
  readonly workers: number;
  /**
   * How workers share the listening ports (`workersPortSharing`): 'reuseport' (SO_REUSEPORT, each worker its own
   * socket), 'cluster' (the primary's shared socket), or 'auto' (see src/workers/port-sharing.ts).
   */
  readonly workersPortSharing: 'auto' | 'cluster' | 'reuseport';
  readonly registry: RegistryConfig;
  readonly probe: ProbeConfig;
  readonly sip: SipConfig;
  readonly health: HealthConfig;
  readonly algorithm: AlgorithmConfig;
  readonly http: HttpConfig;
  readonly smpp: SmppConfig;
  readonly tls: TlsConfig;
  readonly api: ApiConfig;
  /** Every property of the file as written (after escapes), for custom algorithms and plug-ins. */
  readonly properties: Readonly<Record<string, string>>;
  /** The effective value of every known key, with its source. */
  readonly sources: readonly ValueSource[];
}
