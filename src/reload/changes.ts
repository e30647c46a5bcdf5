// What a hot reload changes: the keys whose value differs between the running configuration and the file,
// which of them apply live and which need a restart, and the configuration to apply — the new file with the
// running value of every key that needs a restart, built and validated by the same loader as at start-up.

import { parseProperties } from '../config/properties.js';
import { loadConfigProperties, type LoadedConfig } from '../config/load.js';
import type { RawProperty } from '../config/reader.js';
import type { Config } from '../config/types.js';
import { ConfigError } from '../errors.js';

/** One key whose value differs; `before`/`after` undefined means absent from the file. */
export interface KeyChange {
  readonly key: string;
  readonly before?: string;
  readonly after?: string;
}

export interface ReloadPlan {
  /** The file as written, validated (its warnings are logged as at start-up). */
  readonly loaded: LoadedConfig;
  /** What is applied: the file with the running value of every key in `restart`. */
  readonly effective: Config;
  /** Changed keys that take effect now. */
  readonly live: readonly KeyChange[];
  /** Changed keys that keep their running value until the daemon restarts. */
  readonly restart: readonly KeyChange[];
}

/**
 * Keys read once when the daemon starts: listening points (hosts, ports, transports), TLS material and
 * policy, the number of workers, the API's credentials, the node-side gate, the limits given to listening
 * points when they are built, the SMPP broker's timers and modes, and the balancer's own addresses in Via and Record-Route (changing those under
 * dialogs in progress would make the balancer no longer recognise its own Record-Route in their requests).
 */
const RESTART_KEYS: ReadonlySet<string> = new Set([
  'host',
  'ipv6Host',
  'externalHost',
  'internalHost',
  'workers',
  'workersPortSharing',
  'isTransportWs',
  'performanceTestingMode',
  'httpHost',
  'httpFastPath',
  'httpsRedirect',
  'isRemoteServerSsl',
  'smppHost',
  'smppExternalHost',
  'smppInternalHost',
  'smppMaxPduSize',
  // The SMPP broker changes only remoteServers live (src/smpp/index.ts); its timers and modes are set when it starts.
  'maxConnectionSize',
  'muxMode',
  'muxReceiptLifetime',
  'muxReceiptMemory',
  'reconnectPeriod',
  'timeoutConnection',
  'timeoutConnectionCheckClientSide',
  'timeoutConnectionCheckServerSide',
  'timeoutEnquire',
  'timeoutResponse',
  'toNodeAlgorithmClass',
  'toProviderAlgorithmClass',
  'securityRequired',
  'login',
  'password',
  'nodeAllowedSources',
  'maxSipMessageSize',
  'sipConnectionIdleTimeout',
  'sipMaxConnections',
  'sipMessageTimeout',
  'terminateTLSTraffic',
  'requestCheckPattern',
  'publicIp',
  'public-ip',
  'publicIpv6',
  'useIpLoadBalancerAddressInViaHeaders',
  'matchingHostnameForRoute',
  'isFilterSubdomain',
  'enabledCipherSuites',
  'gov.nist.javax.sip.ENABLED_CIPHER_SUITES',
  'keyStore',
  'keyStorePassword',
  'trustStore',
  'trustStorePassword',
]);

/** Families of restart keys: every port (listening, advertised), IP load balancers in front, TLS. */
const RESTART_PATTERNS: readonly RegExp[] = [/Port$/, /IpLoadBalancer/, /^javax\.net\.ssl\./, /^gov\.nist\.javax?\.sip\.TLS_/, /^tls[A-Z]/];

/** True when a change of `key` takes effect only after a restart. */
export function needsRestart(key: string): boolean {
  return RESTART_KEYS.has(key) || RESTART_PATTERNS.some((p) => p.test(key));
}

/** The keys whose value differs between two property sets (added, removed or changed), sorted. */
export function changedKeys(before: Readonly<Record<string, string>>, after: ReadonlyMap<string, RawProperty>): KeyChange[] {
  const out: KeyChange[] = [];
  for (const [key, p] of after) if (before[key] !== p.value) out.push({ key, before: before[key], after: p.value });
  for (const key of Object.keys(before)) if (!after.has(key)) out.push({ key, before: before[key] });
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Validates `text` (the whole file, as at start-up) against nothing but the loader, then plans the reload
 * from `running`. Throws ConfigError with one "file:line: …" line per problem when the file is invalid, or
 * when the file's live keys do not fit with the kept values of the keys that need a restart.
 */
export function planReload(running: Config, text: string, file: string): ReloadPlan {
  const { props, duplicates } = parseProperties(text);
  const loaded = loadConfigProperties(props, file, duplicates);
  const changes = changedKeys(running.properties, props);
  const live = changes.filter((c) => !needsRestart(c.key));
  const restart = changes.filter((c) => needsRestart(c.key));
  if (restart.length === 0) return { loaded, effective: loaded.config, live, restart };
  // The running value of each restart key, at the line the key has now (or none when it was removed).
  const kept = new Map(props);
  for (const c of restart) {
    if (c.before === undefined) kept.delete(c.key);
    else kept.set(c.key, { value: c.before, line: props.get(c.key)?.line ?? 0 });
  }
  let effective: Config;
  try {
    effective = loadConfigProperties(kept, file, duplicates).config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const keptList = restart.map((c) => c.key).join(', ');
    throw new ConfigError(err.problems.map((p) => `${p} (with the running value of ${keptList}, which need a restart)`), err.warnings);
  }
  return { loaded, effective, live, restart };
}

/** A change as one log line: `key: old → new`. */
export function describeChange(c: KeyChange): string {
  const shown = (v: string | undefined): string => (v === undefined ? '(absent)' : /pass(word)?$/i.test(c.key) ? '***' : v === '' ? '(empty)' : v);
  return `${c.key}: ${shown(c.before)} → ${shown(c.after)}`;
}

/** True when two parts of a configuration hold the same settings (regular expressions compared by source). */
export function sameSettings(a: unknown, b: unknown): boolean {
  const text = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (x instanceof RegExp ? `/${x.source}/${x.flags}` : x)) ?? 'undefined';
  return text(a) === text(b);
}

/**
 * True when a reload must build a new algorithm: its own settings changed (algorithmClass, affinity and hash
 * keys, a built-in algorithm's own keys), or — for a custom module, which reads config.properties itself —
 * a key the daemon does not read changed.
 */
export function algorithmChanged(previous: Config, next: Config): boolean {
  if (!sameSettings(previous.algorithm, next.algorithm)) return true;
  if (!next.algorithm.custom) return false;
  const known = new Set(next.sources.map((s) => s.key));
  const keys = new Set([...Object.keys(previous.properties), ...Object.keys(next.properties)]);
  for (const key of keys) if (!known.has(key) && previous.properties[key] !== next.properties[key]) return true;
  return false;
}
