// Every counter of the daemon, the /lbstat document built from them, and the Prometheus registry that
// exports the same figures. Each protocol (SIP, HTTP, SMPP) owns its statistics and registers them here
// when its service is built, so this layer imports no protocol.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { CounterMap, promCounterMap } from './counters.js';
import { RuntimeSampler } from './runtime.js';

/** Changes of the node set: registrations, removals and state transitions ("active->bad", …). */
export class NodeStats {
  added = 0;
  readonly removed = new CounterMap<string>();
  readonly stateChanges = new CounterMap<string>();
}

export class HeartbeatStats {
  /** JSON heartbeat commands accepted, by command (start, heartbeat, shutdown, stop). */
  readonly commands = new CounterMap<string>();
  /** Heartbeats from a session the registry does not know (answered NOK). */
  unknownSession = 0;
  /** Requests that were not a valid heartbeat (bad JSON, unknown command, wrong method). */
  invalid = 0;
  /** Requests refused (403) because their source is not in nodeAllowedSources. */
  refusedSource = 0;
}

/** Process figures for the "Other data" block: CPU % since the last reading, heap bytes used. */
export class ProcessSampler {
  private lastCpu = process.cpuUsage();
  private lastTime = process.hrtime.bigint();
  private lastPercent = 0;

  cpuPercent(): number {
    const now = process.hrtime.bigint();
    const elapsedUs = Number(now - this.lastTime) / 1000;
    if (elapsedUs >= 100_000) {
      const cpu = process.cpuUsage(this.lastCpu);
      this.lastPercent = Math.round(((cpu.user + cpu.system) / elapsedUs) * 100);
      this.lastCpu = process.cpuUsage();
      this.lastTime = now;
    }
    return this.lastPercent;
  }

  heapUsed(): number {
    return process.memoryUsage().heapUsed;
  }
}

export interface LbstatSources {
  releaseVersion: string;
  activeNodes: () => number;
  activeCalls: () => number;
  algorithmStatistics?: () => Readonly<Record<string, number | boolean>> | undefined;
}

/** A protocol's own statistics as the shared document sees them. */
export interface ProtocolStats {
  /** The `protocol` label of sipbalancer_active_connections. */
  readonly protocol: string;
  /** Open client connections of this protocol, all transports together. */
  activeConnectionCount(): number;
  /** /lbstat fields: the original's names (picked into their place in its order), then breakdowns. */
  lbstatFields(): Record<string, unknown>;
  /** Adds the protocol's Prometheus collectors. */
  register(registry: Registry): void;
}

export class Stats {
  readonly heartbeat = new HeartbeatStats();
  readonly nodes = new NodeStats();
  /** Configuration reloads (SIGHUP, a change of the file): applied, and refused for an invalid file. */
  readonly reloads = { succeeded: 0, failed: 0 };
  readonly process = new ProcessSampler();
  /** Event-loop delay and GC pauses; started and stopped by the daemon (balancer.ts). */
  readonly runtime = new RuntimeSampler();
  readonly registry = new Registry();
  private readonly protocols: ProtocolStats[] = [];
  private sources: LbstatSources = { releaseVersion: '0.0.0', activeNodes: () => 0, activeCalls: () => 0 };

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const hb = this.heartbeat;
    promCounterMap(this.registry, 'sipbalancer_heartbeat_commands_total', 'JSON heartbeat commands accepted, by command', 'command', hb.commands);
    new Counter({
      name: 'sipbalancer_heartbeat_rejected_total',
      help: 'JSON heartbeat requests rejected, by reason',
      labelNames: ['reason'],
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc({ reason: 'unknown_session' }, hb.unknownSession);
        this.inc({ reason: 'invalid' }, hb.invalid);
        this.inc({ reason: 'source_not_allowed' }, hb.refusedSource);
      },
    });
    const nodes = this.nodes;
    promCounterMap(this.registry, 'sipbalancer_node_state_changes_total', 'Node state transitions (active, graceful, bad)', 'transition', nodes.stateChanges);
    promCounterMap(this.registry, 'sipbalancer_nodes_removed_total', 'Nodes removed, by cause', 'cause', nodes.removed);
    const reloads = this.reloads;
    new Counter({
      name: 'sipbalancer_config_reloads_total',
      help: 'Configuration reloads (SIGHUP or a change of the file), by result: succeeded or failed (invalid file, nothing changed)',
      labelNames: ['result'],
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc({ result: 'succeeded' }, reloads.succeeded);
        this.inc({ result: 'failed' }, reloads.failed);
      },
    });
    const { protocols } = this;
    const sources = (): LbstatSources => this.sources;
    new Gauge({
      name: 'sipbalancer_active_connections',
      help: 'Open client connections, by protocol',
      labelNames: ['protocol'],
      registers: [this.registry],
      collect() {
        for (const p of protocols) this.set({ protocol: p.protocol }, p.activeConnectionCount());
      },
    });
    new Gauge({
      name: 'sipbalancer_active_nodes',
      help: 'Active application server nodes of the latest version',
      registers: [this.registry],
      collect() {
        this.set(sources().activeNodes());
      },
    });
    new Gauge({
      name: 'sipbalancer_active_calls',
      help: 'Calls tracked by the balancer algorithm',
      registers: [this.registry],
      collect() {
        this.set(sources().activeCalls());
      },
    });
    const runtime = this.runtime;
    new Gauge({
      name: 'sipbalancer_event_loop_delay_seconds',
      help: 'Event-loop delay over the last 30-60 s (quantile 0.5, 0.99, 1 = max): a saturated balancer shows here before calls fail',
      labelNames: ['quantile'],
      registers: [this.registry],
      collect() {
        const f = runtime.figures();
        this.set({ quantile: '0.5' }, f.eventLoopDelayP50Ms / 1000);
        this.set({ quantile: '0.99' }, f.eventLoopDelayP99Ms / 1000);
        this.set({ quantile: '1' }, f.eventLoopDelayMaxMs / 1000);
      },
    });
    new Counter({
      name: 'sipbalancer_gc_pause_seconds_total',
      help: 'Time the process spent paused in garbage collection',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(runtime.figures().gcPauseMsTotal / 1000);
      },
    });
    new Counter({
      name: 'sipbalancer_gc_runs_total',
      help: 'Garbage collections',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(runtime.figures().gcCount);
      },
    });
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'sipbalancer_' });
  }

  /** A protocol module registers its statistics once, when it is built. */
  addProtocol(stats: ProtocolStats): void {
    this.protocols.push(stats);
    stats.register(this.registry);
  }

  /** The registered protocols' /lbstat fields, merged (for readers such as the dashboard). */
  protocolFields(): Record<string, unknown> {
    return Object.assign({}, ...this.protocols.map((p) => p.lbstatFields())) as Record<string, unknown>;
  }

  setSources(sources: LbstatSources): void {
    this.sources = sources;
  }

  /** The /lbstat document: the original's field names first, in its order, then the breakdowns. */
  lbstat(): { Metrics: Record<string, unknown> } {
    // Registered protocols' fields; the original's names read 0 when that protocol is not running.
    const registered = this.protocolFields();
    const pick = (k: string): unknown => registered[k] ?? 0;
    return {
      Metrics: {
        releaseName: 'sipbalancer',
        releaseVersion: this.sources.releaseVersion,
        activeNodes: this.sources.activeNodes(),
        JvmCpuUsage: this.process.cpuPercent(),
        JvmHeapSize: this.process.heapUsed(),
        NumberOfActiveHttpConnections: pick('NumberOfActiveHttpConnections'),
        NumberOfActiveSipConnections: pick('NumberOfActiveSipConnections'),
        NumberOfActiveSmppConnections: pick('NumberOfActiveSmppConnections'),
        NumberOfBytesTransferred: pick('NumberOfBytesTransferred'),
        NumberOfHttpBytesToClient: pick('NumberOfHttpBytesToClient'),
        NumberOfHttpBytesToServer: pick('NumberOfHttpBytesToServer'),
        NumberOfHttpRequests: pick('NumberOfHttpRequests'),
        NumberOfRequestsProcessed: pick('NumberOfRequestsProcessed'),
        NumberOfResponsesProcessed: pick('NumberOfResponsesProcessed'),
        NumberOfSmppBytesToClient: pick('NumberOfSmppBytesToClient'),
        NumberOfSmppBytesToServer: pick('NumberOfSmppBytesToServer'),
        NumberOfSmppRequestsToClient: pick('NumberOfSmppRequestsToClient'),
        NumberOfSmppRequestsToServer: pick('NumberOfSmppRequestsToServer'),
        NumberOfActiveCalls: this.sources.activeCalls(),
        ...registered,
        NodesAdded: this.nodes.added,
        NodesRemoved: this.nodes.removed.toJSON(),
        NodeStateChanges: this.nodes.stateChanges.toJSON(),
        AlgorithmStatistics: this.sources.algorithmStatistics?.() ?? {},
        ConfigReloads: this.reloads.succeeded,
        ConfigReloadsFailed: this.reloads.failed,
        HeartbeatCommands: this.heartbeat.commands.toJSON(),
        HeartbeatUnknownSessions: this.heartbeat.unknownSession,
        HeartbeatInvalidRequests: this.heartbeat.invalid,
        HeartbeatRefusedSources: this.heartbeat.refusedSource,
        ProcessCpuUsagePercent: this.process.cpuPercent(),
        ProcessHeapUsedBytes: this.process.heapUsed(),
        ProcessRssBytes: process.memoryUsage.rss(),
        UptimeSeconds: Math.round(process.uptime()),
        ...runtimeFields(this.runtime),
      },
    };
  }
}

/** The runtime figures under /lbstat names (milliseconds). */
function runtimeFields(runtime: RuntimeSampler): Record<string, number> {
  const f = runtime.figures();
  return {
    EventLoopDelayP50Ms: f.eventLoopDelayP50Ms,
    EventLoopDelayP99Ms: f.eventLoopDelayP99Ms,
    EventLoopDelayMaxMs: f.eventLoopDelayMaxMs,
    GcPauseMsTotal: f.gcPauseMsTotal,
    GcCount: f.gcCount,
  };
}
