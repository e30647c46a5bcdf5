// The primary of `workers=N`: owns the one node registry (JSON heartbeats, expiry, changes the workers
// relay) and sends every change to all workers; forks the workers that serve SIP, HTTP and SMPP on shared
// listening sockets, restarts one that dies, serves /lbstat, /lbinfo and /metrics for the whole daemon
// from the workers' figures, and stops the workers before itself.

import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import { NodeRegistry } from '../registry/node-registry.js';
import { HttpHeartbeatServer } from '../registry/http-heartbeat.js';
import { Stats } from '../stats/stats.js';
import { ApiServer } from '../api/server.js';
import { StartupError } from '../errors.js';
import { VERSION, announceNodeSide, countNodeEvents, createNodeRegistry, stopNodeSide } from '../balancer.js';
import { NodeSources } from '../registry/node-sources.js';
import { applyOp, recordOf, type RegistrySnapshot } from './registry-sync.js';
import { WORKER_CONFIG_ENV, WORKER_INDEX_ENV, isToPrimary, type ToPrimary, type ToWorker, type WorkerFigures } from './messages.js';
import { aggregateMetrics, sumDocuments } from './aggregate.js';
import { promCounter } from '../stats/counters.js';
import { BoundListeners, sharesAnyFreePort } from '../bound-listeners.js';
import { PORT_SHARING_ENV, resolvePortSharing, type PortSharing } from './port-sharing.js';
import { NodePins } from '../algorithms/pins.js';
import { guardedInterval } from '../timers.js';

/** How long the API waits for a worker's figures before answering without them. */
const FIGURES_TIMEOUT_MS = 2000;
/** A worker that dies before it serves, or within this long after, is crashing: its restarts back off. */
const QUICK_DEATH_MS = 1000;

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  ready: boolean;
  /** The last relayed registry change of this worker the registry has applied. */
  ack: number;
  startedAt: number;
  /** When the worker began to serve (0 while it starts). */
  readyAt: number;
  restarts: number;
  quickDeaths: number;
  restartTimer?: NodeJS.Timeout;
}

export class Primary {
  readonly stats = new Stats();
  /** The primary's listeners and the workers' shared ones, with their real ports. */
  readonly listeners: BoundListeners;
  readonly registry: NodeRegistry;
  private readonly slots: Slot[];
  private readonly portSharing: PortSharing;
  private heartbeat: HttpHeartbeatServer | undefined;
  private api: ApiServer | undefined;
  private broadcastPending = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private started = false;
  private nextFiguresId = 1;
  /** SIP messages handed to a worker that was not there (dead, restarting). */
  private relayLost = 0;
  /** Called when /lbstop asks the daemon to stop; the CLI stops it as on SIGTERM. */
  onStopRequested: ((reason: string) => void) | undefined;
  private current: Config;
  /** Regex pins (/lbnoderegex): set here, copied to every worker, which applies them. */
  readonly pins: NodePins;
  private readonly figuresWaiters = new Map<number, (from: Worker, figures: WorkerFigures) => void>();

  constructor(
    config: Config,
    private readonly log: Logger,
  ) {
    this.listeners = new BoundListeners(log);
    this.current = config;
    this.registry = createNodeRegistry(config, log);
    let sharing = resolvePortSharing(config.workersPortSharing);
    if (sharing.sharing === 'reuseport' && sharesAnyFreePort(config)) {
      // Each worker would bind a free port of its own: the cluster's one socket gives them all the same port.
      sharing = { sharing: 'cluster', note: 'workersPortSharing=reuseport with a listener on port 0: the workers share the cluster\'s sockets instead, so that they all listen on the one port the first of them got' };
    }
    if (sharing.note) log.warn(sharing.note);
    this.portSharing = sharing.sharing;
    this.pins = new NodePins(this.registry);
    this.slots = Array.from({ length: config.workers }, (_, index) => ({ index, worker: undefined, ready: false, ack: 0, startedAt: 0, readyAt: 0, restarts: 0, quickDeaths: 0 }));
    countNodeEvents(this.registry, this.stats);
    promCounter(this.stats.registry, 'sipbalancer_sip_handover_lost_total', 'SIP messages handed to a worker that was not running', () => this.relayLost);
    promCounter(this.stats.registry, 'sipbalancer_worker_restarts_total', 'Workers restarted after they died', () => this.slots.reduce((sum, s) => sum + s.restarts, 0));
    this.stats.setSources({
      releaseVersion: VERSION,
      activeNodes: () => this.registry.live().filter((n) => n.state === 'active').length,
      activeCalls: () => 0,
    });
  }

  /** The configuration in force: the file at start-up, then the last reload applied. */
  get config(): Config {
    return this.current;
  }

  /**
   * Applies a reloaded configuration (validated by src/reloader.ts, restart keys at their running value): the
   * log level, the registry's timers and extraServerNodes here, and everything else in each worker, which gets
   * the properties in force (a worker restarted later starts from them too, whatever the file holds).
   */
  async reload(next: Config): Promise<void> {
    const previous = this.current;
    this.current = next;
    if (previous.logLevel !== next.logLevel) {
      this.log.level = next.logLevel;
      this.log.warn(`log level changed from ${previous.logLevel} to ${next.logLevel} (logLevel)`);
    }
    this.registry.reconfigure({ nodeTimeoutMs: next.registry.nodeTimeoutMs, heartbeatIntervalMs: next.registry.heartbeatIntervalMs, extraServerNodes: next.sip.extraServerNodes });
    for (const slot of this.slots) if (slot.worker) this.sendTo(slot.worker, { t: 'reload', properties: next.properties });
    await Promise.resolve();
  }

  /** What /lbloglevel and /lbnoderegex set here, for every worker. */
  private adminState(): ToWorker {
    return { t: 'admin', logLevel: this.log.level, pins: this.pins.specs() };
  }

  async start(): Promise<void> {
    const { config, log, registry } = this;
    try {
      registry.start();
      const allowed = config.registry.nodeAllowedSources;
      if (config.registry.heartbeatPort !== undefined) {
        this.heartbeat = new HttpHeartbeatServer(
          { host: config.registry.heartbeatHost, port: config.registry.heartbeatPort },
          registry,
          this.stats.heartbeat,
          log.child({ module: 'heartbeat' }),
          allowed.length > 0 ? NodeSources.of(allowed) : undefined,
        );
        await this.heartbeat.start();
        this.listeners.add('heartbeatPort', 'tcp', config.registry.heartbeatHost, this.heartbeat.port);
      }
      announceNodeSide(log, config, this.heartbeat?.port);
      // Every change reaches the workers at once; a periodic copy carries signs of life (lastSeen).
      registry.on('changed', () => this.scheduleBroadcast());
      this.refreshTimer = guardedInterval('Registry broadcast to workers', Math.max(500, config.registry.heartbeatIntervalMs), () => this.broadcast(), log);

      cluster.on('message', this.onMessage);
      cluster.on('exit', this.onExit);
      log.info(`Starting ${this.slots.length} workers (workers=${config.workers}), sharing the listening ports by ${this.portSharing === 'reuseport' ? 'SO_REUSEPORT' : "the cluster's sockets"}`);
      await Promise.all(this.slots.map((slot) => this.fork(slot)));

      if (config.api.port !== undefined) {
        this.api = new ApiServer(
          config.api,
          {
            stats: this.stats,
            registry,
            version: VERSION,
            smppRemoteServers: () => this.current.smpp.remoteServers,
            daemonFigures: { lbstat: () => this.lbstat(), metrics: () => this.metrics() },
            // Set here, applied in every worker (and in one restarted later).
            pins: this.pins,
            rootLog: log,
            adminChanged: () => {
              for (const slot of this.slots) if (slot.worker) this.sendTo(slot.worker, this.adminState());
            },
            requestStop: (reason) => this.onStopRequested?.(reason),
            listeners: () => this.listeners.all(),
          },
          log.child({ module: 'api' }),
        );
        await this.api.start();
        this.listeners.add('statisticPort', 'tcp', config.api.host, this.api.port);
      }
      this.started = true;
      log.info(
        { version: VERSION, nodeVersion: process.version, workers: this.slots.map((s) => s.worker?.process.pid) },
        `Load balancer started (sipbalancer ${VERSION}, ${this.slots.length} workers)`,
      );
    } catch (err) {
      await this.stop().catch(() => undefined);
      throw err;
    }
  }

  /** Stops the API, then every worker (each closes its listening points), then the registry. */
  async stop(): Promise<void> {
    const { log } = this;
    this.stopping = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    if (this.api) {
      await this.api.stop();
      this.api = undefined;
    }
    await Promise.all(this.slots.map((slot) => this.stopWorker(slot)));
    cluster.off('message', this.onMessage);
    cluster.off('exit', this.onExit);
    await stopNodeSide(this.heartbeat, this.registry, log);
    this.heartbeat = undefined;
    if (this.started) log.info('Load balancer stopped');
    this.started = false;
  }

  /** Starts the worker of a slot; resolves when it serves, rejects when it fails to start. */
  private fork(slot: Slot): Promise<void> {
    slot.ready = false;
    slot.ack = 0;
    slot.startedAt = Date.now();
    slot.readyAt = 0;
    // The configuration in force goes with it: after a reload, a restarted worker starts as the others serve.
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(slot.index), [WORKER_CONFIG_ENV]: JSON.stringify(this.current.properties), [PORT_SHARING_ENV]: this.portSharing });
    slot.worker = worker;
    return new Promise<void>((resolve, reject) => {
      const onMessage = (m: unknown): void => {
        if (!isToPrimary(m)) return;
        if (m.t === 'ready') {
          done();
          this.listeners.adopt(m.listeners);
          slot.ready = true;
          slot.readyAt = Date.now();
          this.log.info(`Worker ${slot.index} (pid ${worker.process.pid}) serving`);
          resolve();
        } else if (m.t === 'failed') {
          done();
          reject(new StartupError(`worker ${slot.index}: ${m.message}`));
        }
      };
      const onExit = (code: number | null, signal: string | null): void => {
        done();
        reject(new StartupError(`worker ${slot.index} exited during start-up (${signal ?? `code ${code}`})`));
      };
      const done = (): void => {
        worker.off('message', onMessage);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('exit', onExit);
    });
  }

  private readonly onMessage = (worker: Worker, m: unknown): void => {
    if (!isToPrimary(m)) return;
    const slot = this.slots.find((s) => s.worker === worker);
    if (!slot) return;
    this.handle(slot, worker, m);
  };

  private handle(slot: Slot, worker: Worker, m: ToPrimary): void {
    switch (m.t) {
      case 'hello':
        this.sendTo(worker, this.adminState());
        this.sendTo(worker, { t: 'snapshot', snapshot: this.snapshotFor(slot) });
        return;
      case 'registry': {
        const seq = applyOp(this.registry, m.op);
        if (seq !== undefined) slot.ack = Math.max(slot.ack, seq);
        return;
      }
      case 'figures':
        this.figuresWaiters.get(m.id)?.(worker, m.figures);
        return;
      case 'sip': {
        // To the worker that holds the connection; while it restarts, its connections are gone anyway.
        const to = this.slots[m.to]?.worker;
        if (to?.isConnected()) this.sendTo(to, { t: 'sip', relay: m.relay });
        else this.relayLost++;
        return;
      }
      default:
        return;
    }
  }

  private readonly onExit = (worker: Worker, code: number | null, signal: string | null): void => {
    const slot = this.slots.find((s) => s.worker === worker);
    if (!slot) return;
    slot.worker = undefined;
    slot.ready = false;
    if (this.stopping || !this.started) return;
    const lived = Date.now() - slot.startedAt;
    slot.quickDeaths = slot.readyAt === 0 || Date.now() - slot.readyAt < QUICK_DEATH_MS ? slot.quickDeaths + 1 : 0;
    // A worker that keeps dying at start waits longer each time (up to 30 s), so it cannot spin the CPU.
    const delay = slot.quickDeaths === 0 ? 0 : Math.min(30_000, 250 * 2 ** (slot.quickDeaths - 1));
    this.log.error(
      { worker: slot.index, workerPid: worker.process.pid, code, signal },
      `Worker ${slot.index} (pid ${worker.process.pid}) died (${signal ?? `exit code ${code}`}) after ${lived} ms; restarting it${delay ? ` in ${delay} ms` : ''}; the other workers keep serving`,
    );
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.stopping) return;
      slot.restarts++;
      this.fork(slot).then(
        () => this.log.info(`Worker ${slot.index} restarted (restart ${slot.restarts})`),
        (err: unknown) => {
          if (!this.stopping) this.log.error(`Worker ${slot.index} could not restart: ${(err as Error).message}`);
        },
      );
    }, delay);
  };

  private stopWorker(slot: Slot): Promise<void> {
    if (slot.restartTimer) clearTimeout(slot.restartTimer);
    const worker = slot.worker;
    if (!worker || worker.isDead()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      this.sendTo(worker, { t: 'stop' });
    });
  }

  private sendTo(worker: Worker, m: ToWorker): void {
    if (!worker.isConnected()) return;
    try {
      worker.send(m);
    } catch (err) {
      this.log.debug({ err }, 'message to a worker lost (it is exiting)');
    }
  }

  private snapshotFor(slot: Slot): RegistrySnapshot {
    return { nodes: this.registry.all().map(recordOf), ack: slot.ack };
  }

  private scheduleBroadcast(): void {
    if (this.broadcastPending) return;
    this.broadcastPending = true;
    setImmediate(() => {
      this.broadcastPending = false;
      this.broadcast();
    });
  }

  private broadcast(): void {
    for (const slot of this.slots) if (slot.worker) this.sendTo(slot.worker, { t: 'snapshot', snapshot: this.snapshotFor(slot) });
  }

  /** Every serving worker's figures (those that answer within FIGURES_TIMEOUT_MS). */
  private gatherFigures(): Promise<WorkerFigures[]> {
    const workers = this.slots.filter((s) => s.ready && s.worker?.isConnected()).map((s) => s.worker!);
    if (workers.length === 0) return Promise.resolve([]);
    const id = this.nextFiguresId++;
    return new Promise<WorkerFigures[]>((resolve) => {
      const got = new Map<Worker, WorkerFigures>();
      const finish = (): void => {
        clearTimeout(timer);
        this.figuresWaiters.delete(id);
        resolve([...got.values()]);
      };
      const timer = setTimeout(finish, FIGURES_TIMEOUT_MS);
      this.figuresWaiters.set(id, (from, figures) => {
        got.set(from, figures);
        if (got.size === workers.length) finish();
      });
      for (const w of workers) this.sendTo(w, { t: 'figures?', id });
    });
  }

  private async lbstat(): Promise<object> {
    const figures = await this.gatherFigures();
    const own = this.stats.lbstat();
    const summed = sumDocuments([own, ...figures.map((f) => f.lbstat)]) as { Metrics: Record<string, unknown> };
    const requestsOf = (f: WorkerFigures): unknown => (f.lbstat as { Metrics?: Record<string, unknown> }).Metrics?.NumberOfRequestsProcessed;
    // Figures of the daemon as a whole rather than sums: its version, its uptime, its workers.
    summed.Metrics.releaseVersion = own.Metrics.releaseVersion;
    summed.Metrics.UptimeSeconds = own.Metrics.UptimeSeconds;
    summed.Metrics.Workers = {
      configured: this.slots.length,
      serving: this.slots.filter((s) => s.ready).length,
      reporting: figures.length,
      restarts: this.slots.reduce((sum, s) => sum + s.restarts, 0),
      // Each worker's share, so an operator sees how the kernel spreads the traffic and that all agree on the nodes.
      each: figures
        .sort((a, b) => a.index - b.index)
        .map((f) => ({ index: f.index, pid: f.pid, restarts: this.slots[f.index]?.restarts ?? 0, knownNodes: f.knownNodes, NumberOfRequestsProcessed: requestsOf(f) })),
    };
    return summed;
  }

  private async metrics(): Promise<string> {
    const figures = await this.gatherFigures();
    const own = await this.stats.registry.getMetricsAsJSON();
    return aggregateMetrics([own, ...figures.map((f) => f.metrics)]).metrics();
  }
}
