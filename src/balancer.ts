// The composition root: builds the registry, the algorithm, the protocol services and the API server
// from a Config, starts them in order and stops them in reverse order.

import { createRequire } from 'node:module';
import type { Config } from './config/types.js';
import type { Logger } from './log.js';
import { NodeRegistry } from './registry/node-registry.js';
import { HttpHeartbeatServer } from './registry/http-heartbeat.js';
import { NodeSources, nodeSideExposure } from './registry/node-sources.js';
import { Stats } from './stats/stats.js';
import { loadAlgorithm } from './algorithms/load.js';
import type { Service, ServiceContext } from './service.js';
import { createSipService } from './sip/index.js';
import { createHttpService } from './http/index.js';
import { createSmppService } from './smpp/index.js';
import { ApiServer } from './api/server.js';
import { sameChoiceInEveryWorker } from './workers/same-choice.js';
import { Dashboard } from './api/dashboard.js';
import { LiveAlgorithm } from './algorithms/live-algorithm.js';
import { EventJournal } from './stats/events.js';
import { NodeProber, type ProbeOptions } from './registry/probe.js';
import { StartupError } from './errors.js';
import { NodePins, PinnedAlgorithm } from './algorithms/pins.js';
import { BoundListeners } from './bound-listeners.js';
import type { BalancerAlgorithm } from './algorithms/algorithm.js';
import { algorithmChanged, sameSettings } from './reload/changes.js';
import type { WorkerRelayHook } from './sip/forwarder.js';

const require = createRequire(import.meta.url);
export const VERSION: string = (require('../package.json') as { version: string }).version;

/** Stops the JSON heartbeat listener (when there is one) and the node registry, with the manual's log lines. */
export async function stopNodeSide(heartbeat: HttpHeartbeatServer | undefined, registry: NodeRegistry, log: Logger): Promise<void> {
  if (heartbeat) {
    log.info('Unregistering the node adapter');
    await heartbeat.stop();
  }
  log.info('Stopping the node registry');
  registry.stop();
}

/** The daemon's node registry, configured from the file (by a single process or by the primary of workers). */
export function createNodeRegistry(config: Config, log: Logger): NodeRegistry {
  return new NodeRegistry(
    {
      nodeTimeoutMs: config.registry.nodeTimeoutMs,
      heartbeatIntervalMs: config.registry.heartbeatIntervalMs,
      extraServerNodes: config.sip.extraServerNodes,
      performanceTestingMode: config.sip.performanceTestingMode,
    },
    log.child({ module: 'registry' }),
  );
}

/**
 * How this process serves: alone (`workers=1`), or as one of several workers, which leave the registry's
 * expiry, the JSON heartbeat port and the statistics port to the primary (src/workers/primary.ts).
 */
export interface BalancerRole {
  readonly worker?: boolean;
  /** The registry to use (a worker's replica of the primary's). */
  readonly registry?: NodeRegistry;
  /** A worker's relay to connections other workers hold (src/workers/sip-relay.ts). */
  readonly sipRelay?: WorkerRelayHook;
}

export class LoadBalancer {
  private current: Config;
  readonly log: Logger;
  readonly stats: Stats;
  readonly registry: NodeRegistry;
  /** Node events and reloads, newest last, for the dashboard. */
  readonly journal = new EventJournal();
  private algorithm: LiveAlgorithm | undefined;
  private readonly services: Service[] = [];
  private heartbeat: HttpHeartbeatServer | undefined;
  private prober: NodeProber | undefined;
  private api: ApiServer | undefined;
  private started = false;
  private readonly worker: boolean;
  private readonly sipRelay: WorkerRelayHook | undefined;
  /** Every listening point bound, with its real port; a worker's are logged by its primary. */
  readonly listeners: BoundListeners;
  /** Regex pins (/lbnoderegex), consulted before the algorithm. */
  readonly pins: NodePins;
  /** Called when /lbstop asks the daemon to stop; the CLI stops it as on SIGTERM. */
  onStopRequested: ((reason: string) => void) | undefined;

  constructor(config: Config, log: Logger, role: BalancerRole = {}) {
    this.current = config;
    this.log = log;
    this.stats = new Stats();
    this.worker = role.worker === true;
    this.listeners = new BoundListeners(this.worker ? undefined : log);
    this.sipRelay = role.sipRelay;
    this.registry = role.registry ?? createNodeRegistry(config, log);
    this.pins = new NodePins(this.registry);
  }

  /** The configuration in force: the file at start-up, then the last reload applied. */
  get config(): Config {
    return this.current;
  }

  /** Starts every part; on failure stops what was started and rethrows. */
  async start(): Promise<void> {
    const { config, log, registry, stats } = this;
    try {
      stats.runtime.start();
      // 1. The node registry and its JSON heartbeat listener.
      registry.start();
      const allowed = config.registry.nodeAllowedSources;
      if (config.registry.heartbeatPort !== undefined && !this.worker) {
        this.heartbeat = new HttpHeartbeatServer(
          { host: config.registry.heartbeatHost, port: config.registry.heartbeatPort },
          registry,
          stats.heartbeat,
          log.child({ module: 'heartbeat' }),
          allowed.length > 0 ? NodeSources.of(allowed) : undefined,
        );
        await this.heartbeat.start();
        this.listeners.add('heartbeatPort', 'tcp', config.registry.heartbeatHost, this.heartbeat.port);
      }
      // With workers the primary says this, once.
      if (!this.worker) announceNodeSide(log, config, this.heartbeat?.port);

      const journal = this.journal;
      // With workers the primary counts node events once for the daemon.
      if (!this.worker) registry.on('added', (node) => {
        stats.nodes.added++;
        journal.add('node-added', `${node} added`);
      });
      if (!this.worker) registry.on('removed', (node, reason) => {
        stats.nodes.removed.inc(removalCause(reason));
        journal.add('node-removed', `${node} removed: ${reason}`);
      });
      if (!this.worker) registry.on('state-changed', (node, previous) => {
        stats.nodes.stateChanges.inc(`${previous}->${node.state}`);
        journal.add('node-state', `${node} is now ${node.state} (was ${previous})${node.badReason ? `: ${node.badReason}` : ''}`);
      });

      // Static nodes (staticNodes), probed with OPTIONS; the prober also runs with none, for a reload to fill.
      this.prober = new NodeProber(registry, probeOptions(config), log.child({ module: 'probe' }), (text) => journal.add('probe', text));
      try {
        await this.prober.start(config.probe.staticNodes);
      } catch (err) {
        throw new StartupError(`staticNodes: ${(err as Error).message}`);
      }
      if (config.probe.staticNodes.length > 0) {
        log.info(`Probing ${config.probe.staticNodes.length} static node(s) with OPTIONS every ${config.probe.intervalMs} ms: a silent node is out within ${NodeProber.detectionBoundMs(config.probe)} ms`);
      }

      // 2. The algorithm, told of every change of the latest version's nodes.
      // The services hold the LiveAlgorithm, so that a reload can put another (pinned) algorithm behind it.
      const algorithm = new LiveAlgorithm(await this.buildAlgorithm(config));
      this.algorithm = algorithm;
      registry.on('changed', () => algorithm.nodesChanged(registry.live()));
      algorithm.nodesChanged(registry.live());
      log.info(`Balancer algorithm ${algorithm.name} initialised`);
      stats.setSources({
        releaseVersion: VERSION,
        // The primary counts the nodes once for the daemon; workers report only their own traffic.
        activeNodes: () => (this.worker ? 0 : registry.live().filter((n) => n.state === 'active').length),
        activeCalls: () => algorithm.activeCalls(),
        algorithmStatistics: () => algorithm.statistics(),
      });

      // 3–5. The protocol services.
      const ctx = (name: string): ServiceContext => ({ config, registry, algorithm, stats, log: log.child({ module: name }), sipRelay: this.sipRelay, listeners: this.listeners });
      this.services.push(createSipService(ctx('sip')));
      if (config.http.port !== undefined || config.http.httpsPort !== undefined) this.services.push(createHttpService(ctx('http')));
      if (config.smpp.port !== undefined || config.smpp.sslPort !== undefined) this.services.push(createSmppService(ctx('smpp')));
      for (const service of this.services) await service.start();

      // 6. The API server.
      if (config.api.port !== undefined && !this.worker) {
        const dashboard = new Dashboard({ stats, registry, journal: this.journal, version: VERSION, algorithmName: () => algorithm.name, activeCalls: () => algorithm.activeCalls(), reloads: () => stats.reloads });
        const serviceInfo = (): Record<string, unknown> => Object.assign({}, ...this.services.map((s) => s.info?.() ?? {}));
        const api = { stats, registry, version: VERSION, smppRemoteServers: () => this.current.smpp.remoteServers, pins: this.pins, rootLog: log, dashboard, serviceInfo, listeners: () => this.listeners.all() };
        this.api = new ApiServer(config.api, { ...api, requestStop: (reason) => this.onStopRequested?.(reason) }, log.child({ module: 'api' }));
        await this.api.start();
        this.listeners.add('statisticPort', 'tcp', config.api.host, this.api.port);
      }
      this.started = true;
      if (!this.worker) log.info({ version: VERSION, nodeVersion: process.version }, `Load balancer started (sipbalancer ${VERSION})`);
    } catch (err) {
      await this.stop().catch(() => undefined);
      throw err;
    }
  }

  /** The configured algorithm, built and initialised, behind the regex pins (and, in a worker, the same choice in each). */
  private async buildAlgorithm(config: Config): Promise<BalancerAlgorithm> {
    const loaded = await loadAlgorithm(config, this.registry, this.log.child({ module: 'algorithm' }));
    return new PinnedAlgorithm(this.worker ? sameChoiceInEveryWorker(loaded, this.registry) : loaded, this.pins, config.algorithm.httpAffinityKey);
  }

  /**
   * Applies a reloaded configuration (src/reloader.ts has validated it and kept the running value of every key
   * that needs a restart). What can fail comes first — a new algorithm is built and initialised, static node
   * names are resolved — so that a failure (thrown) changes nothing. Then, without closing any socket: the log
   * level, the registry's timers and extraServerNodes, the static nodes, the algorithm (the new one seeded with
   * the live nodes; calls in progress keep their node through Record-Route), and each service's live keys.
   */
  async reload(next: Config): Promise<void> {
    const previous = this.current;
    const { log, registry } = this;
    const live = this.algorithm;
    const replacement = live !== undefined && algorithmChanged(previous, next) ? await this.buildAlgorithm(next) : undefined;
    try {
      if (this.prober !== undefined && !sameSettings(previous.probe, next.probe)) await this.prober.update(next.probe.staticNodes, probeOptions(next));
    } catch (err) {
      await replacement?.stop();
      throw new StartupError(`staticNodes: ${(err as Error).message}`);
    }
    this.current = next;
    if (previous.logLevel !== next.logLevel) {
      log.level = next.logLevel;
      log.warn(`log level changed from ${previous.logLevel} to ${next.logLevel} (logLevel)`);
    }
    const reg = (c: Config): object => ({ nodeTimeoutMs: c.registry.nodeTimeoutMs, heartbeatIntervalMs: c.registry.heartbeatIntervalMs, extraServerNodes: c.sip.extraServerNodes });
    if (!sameSettings(reg(previous), reg(next))) {
      registry.reconfigure({ nodeTimeoutMs: next.registry.nodeTimeoutMs, heartbeatIntervalMs: next.registry.heartbeatIntervalMs, extraServerNodes: next.sip.extraServerNodes });
    }
    if (live !== undefined && replacement !== undefined) {
      replacement.nodesChanged(registry.live());
      const old = live.replace(replacement);
      log.info(`Balancer algorithm ${replacement.name} in place of ${old.name} (reload); new calls go by it from now on`);
      await Promise.resolve(old.stop()).catch((err: unknown) => log.warn({ err }, `Stopping the previous algorithm ${old.name} failed`));
    }
    for (const service of this.services) {
      try {
        await service.reload?.(next);
      } catch (err) {
        log.error({ err }, `The ${service.name} could not apply the reload: it keeps its previous settings`);
      }
    }
  }

  /**
   * After an uncaught exception, before stop(): a service that can tell when its work in flight is done stops
   * accepting and is waited for; the others (stateless SIP) are stopped at once, so that nothing new is accepted.
   */
  async drain(): Promise<void> {
    const { log } = this;
    const draining = this.services.filter((s) => s.drain);
    const others = this.services.filter((s) => !s.drain);
    this.services.splice(0, this.services.length, ...draining);
    await Promise.all([
      ...others.map((service) => this.stopService(service)),
      ...draining.map((service) => {
        log.info(`Draining the ${service.name}: no new connections; waiting for the work in flight`);
        return service.drain!();
      }),
    ]);
  }

  private async stopService(service: Service): Promise<void> {
    this.log.info(`Stopping the ${service.name}`);
    try {
      await service.stop();
    } catch (err) {
      this.log.error({ err }, `Stopping the ${service.name} failed`);
    }
  }

  /** Stops every part in reverse order of start. Safe to call more than once. */
  async stop(): Promise<void> {
    const { log } = this;
    if (this.api) {
      await this.api.stop();
      this.api = undefined;
    }
    for (const service of [...this.services].reverse()) await this.stopService(service);
    this.services.length = 0;
    if (this.algorithm) {
      await this.algorithm.stop();
      this.algorithm = undefined;
    }
    this.prober?.stop();
    this.prober = undefined;
    await stopNodeSide(this.heartbeat, this.registry, log);
    this.heartbeat = undefined;
    this.stats.runtime.stop();
    if (this.started && !this.worker) log.info('Load balancer stopped');
    this.started = false;
  }
}

/** The warning (or note) on who may reach the node side, logged once at start. */
export function announceNodeSide(log: Logger, config: Config, boundHeartbeatPort: number | undefined): void {
  const exposure = nodeSideExposure({ ...config, registry: { ...config.registry, heartbeatPort: boundHeartbeatPort } });
  const allowed = config.registry.nodeAllowedSources;
  if (exposure) log.warn(exposure);
  else if (allowed.length > 0) log.info(`Node side accepts heartbeats and node traffic only from nodeAllowedSources: ${allowed.join(', ')}`);
}

/** Node registrations, removals by cause and state transitions, in /lbstat and /metrics. */
export function countNodeEvents(registry: NodeRegistry, stats: Stats): void {
  registry.on('added', () => stats.nodes.added++);
  registry.on('removed', (_node, reason) => stats.nodes.removed.inc(removalCause(reason)));
  registry.on('state-changed', (node, previous) => stats.nodes.stateChanges.inc(`${previous}->${node.state}`));
}

/** The prober's options from a configuration (start-up and reload). */
export function probeOptions(config: Config): ProbeOptions {
  const { staticNodes: _list, ...timing } = config.probe;
  return {
    ...timing,
    localHost: config.internalHost,
    tls: { ca: config.tls.material?.ca, rejectUnauthorized: !config.tls.skipServerVerification },
  };
}

/** A short label for why a node left, for counters (the log line keeps the full reason). */
function removalCause(reason: string): string {
  if (reason.startsWith('no heartbeat')) return 'expired';
  if (reason.includes('stop')) return 'stop';
  if (reason.includes('new session')) return 'replaced';
  return 'other';
}
