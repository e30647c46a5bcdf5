// The common section of lb.properties: the balancer's addresses, logging, shutdown, the node registry's
// timers and heartbeat port, and the statistics API.

import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { normaliseLogLevel } from '../log.js';
import { parseSourceEntry } from '../registry/node-sources.js';
import { isHostName } from './hosts.js';
import type { PropertyReader } from './reader.js';
import type { Config } from './types.js';

/** How often the configuration file is checked for a change (`configReloadPeriod`), as the original did. */
export const DEFAULT_CONFIG_RELOAD_PERIOD_MS = 2000;

export type CommonConfig = Pick<Config, 'host' | 'ipv6Host' | 'externalHost' | 'internalHost' | 'logLevel' | 'shutdownTimeoutMs' | 'configReloadPeriodMs' | 'workers' | 'workersPortSharing' | 'registry' | 'api'>;

export function readCommonSection(r: PropertyReader): CommonConfig {
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
  const workers = readWorkers(r);
  // The original polled its file every 2 s; 0 switches the watch off (SIGHUP still reloads).
  const configReloadPeriodMs = r.int('configReloadPeriod', DEFAULT_CONFIG_RELOAD_PERIOD_MS, { min: 0, max: 3_600_000, unit: 'milliseconds, 0 = no watch' });
  const workersPortSharing = r.choice('workersPortSharing', ['auto', 'cluster', 'reuseport'] as const, 'auto')!;
  const nodeTimeoutMs = r.int('nodeTimeout', 8400, { min: 15, unit: 'milliseconds' });
  const heartbeatIntervalMs = r.int('heartbeatInterval', 150, { min: 15, unit: 'milliseconds' });
  const heartbeatPort = r.listenPort('heartbeatPort', 2610);
  const statisticPort = r.listenPort('statisticPort', 2006, ['apiPort']);
  const securityRequired = r.bool('securityRequired', false);
  const login = r.string('login');
  const password = r.string('password');
  if (securityRequired && (!login || !password)) r.error(undefined, 'securityRequired', 'securityRequired=true needs login and password');
  // The node side's gate (issue 10): who may send heartbeats and node-side SIP traffic.
  const nodeAllowedSources = r.list('nodeAllowedSources');
  for (const s of nodeAllowedSources) {
    if (!parseSourceEntry(s)) r.error(r.raw('nodeAllowedSources'), 'nodeAllowedSources', `"${s}" is not an IP address or CIDR (e.g. 10.0.0.0/8, 192.0.2.7, fd00::/8)`);
  }
  return {
    host,
    ipv6Host,
    externalHost,
    internalHost,
    logLevel: logLevel ?? 'info',
    shutdownTimeoutMs,
    configReloadPeriodMs,
    workers,
    workersPortSharing,
    registry: { nodeTimeoutMs, heartbeatIntervalMs, heartbeatPort, heartbeatHost: internalHost, nodeAllowedSources },
    api: { port: statisticPort, host, securityRequired, login, password },
  };
}

/**
 * `workers`: how many processes serve the listening points (a number, or `auto` = the machine's cores).
 * Default 1, one process as before: a second process only pays on a machine with a core to spare.
 */
function readWorkers(r: PropertyReader): number {
  if (r.raw('workers')?.value.trim().toLowerCase() === 'auto') {
    r.string('workers');
    return availableParallelism();
  }
  return r.int('workers', 1, { min: 1, max: 256, unit: 'processes, or auto' });
}
