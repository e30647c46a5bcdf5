// One worker of `workers=N`: the whole balancer (SIP, HTTP, SMPP on the listening sockets the cluster
// shares) over a replica of the primary's registry; answers the primary's requests for its figures and
// stops when the primary says so, or when the primary is gone.

import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import { LoadBalancer } from '../balancer.js';
import { loadConfigRecord } from '../config/load.js';
import { normaliseLogLevel } from '../log.js';
import { ReplicaRegistry } from './registry-sync.js';
import { SipRelay } from './sip-relay.js';
import { promCounter } from '../stats/counters.js';
import { WORKER_INDEX_ENV, isToWorker, type ToPrimary, type ToWorker } from './messages.js';

/** How long a worker waits for the primary's first copy of the registry. */
const FIRST_SNAPSHOT_TIMEOUT_MS = 10_000;

/** This worker's index (0..workers-1), or undefined in a process that is not a worker. */
export function workerIndex(): number | undefined {
  const raw = process.env[WORKER_INDEX_ENV];
  return raw === undefined ? undefined : Number(raw);
}

export class WorkerProcess {
  readonly index: number;
  private readonly registry: ReplicaRegistry;
  private readonly sipRelay: SipRelay;
  private readonly balancer: LoadBalancer;
  private stopping: Promise<void> | undefined;
  private failed = false;
  private firstSnapshot: (() => void) | undefined;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.index = workerIndex() ?? 0;
    this.registry = new ReplicaRegistry(
      {
        nodeTimeoutMs: config.registry.nodeTimeoutMs,
        heartbeatIntervalMs: config.registry.heartbeatIntervalMs,
        extraServerNodes: config.sip.extraServerNodes,
      },
      log.child({ module: 'registry' }),
      (op) => this.send({ t: 'registry', op }),
    );
    this.sipRelay = new SipRelay(this.index, config.workers, (to, relay) => this.send({ t: 'sip', to, relay }), log.child({ module: 'sip' }));
    this.balancer = new LoadBalancer(config, log, { worker: true, registry: this.registry, sipRelay: this.sipRelay });
    const reg = this.balancer.stats.registry;
    const relay = this.sipRelay;
    promCounter(reg, 'sipbalancer_sip_handed_over_total', 'SIP messages and sends handed to the worker that holds their connection', () => relay.handedOver);
    promCounter(reg, 'sipbalancer_sip_taken_over_total', 'SIP messages and sends taken from another worker for a connection this one holds', () => relay.takenOver);
    promCounter(reg, 'sipbalancer_sip_handover_lost_total', 'SIP messages handed over by another worker that could not be handled here', () => relay.lost);
  }

  /** Takes the primary's registry, then starts the balancer; tells the primary it serves (or failed). */
  async start(): Promise<void> {
    // The primary coordinates shutdown: a signal to the whole process group (Ctrl+C, systemd) must not
    // stop workers before the primary stops them in order.
    process.on('SIGINT', () => undefined);
    process.on('SIGTERM', () => undefined);
    // The primary reloads the configuration (SIGHUP) and passes it on.
    process.on('SIGHUP', () => undefined);
    process.on('disconnect', () => {
      if (this.failed) return;
      this.log.warn('The primary is gone: stopping');
      void this.stop().finally(() => process.exit(0));
    });
    // Every copy of the registry is applied as it arrives; start-up waits until the first has been.
    const first = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no registry from the primary within ${FIRST_SNAPSHOT_TIMEOUT_MS} ms`)), FIRST_SNAPSHOT_TIMEOUT_MS);
      this.firstSnapshot = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    process.on('message', (m: unknown) => {
      if (isToWorker(m)) this.onMessage(m);
    });
    this.send({ t: 'hello' });
    try {
      await first;
      await this.balancer.start();
    } catch (err) {
      this.failed = true;
      this.send({ t: 'failed', message: (err as Error).message });
      await this.balancer.stop().catch(() => undefined);
      process.disconnect();
      throw err;
    }
    this.send({ t: 'ready', listeners: this.balancer.listeners.all() });
  }

  /** Stops accepting and waits for the work in flight (after an uncaught exception, before stop). */
  drain(): Promise<void> {
    return this.balancer.drain();
  }

  /** The configuration in force: the primary's at start-up, then each reload it passed on. */
  get currentConfig(): Config {
    return this.balancer.config;
  }

  stop(): Promise<void> {
    this.stopping ??= this.balancer.stop();
    return this.stopping;
  }

  private onMessage(m: ToWorker): void {
    switch (m.t) {
      case 'sip':
        this.sipRelay.take(m.relay);
        return;
      case 'snapshot':
        if (this.registry.applySnapshot(m.snapshot)) this.firstSnapshot?.();
        return;
      case 'figures?':
        void this.balancer.stats.registry.getMetricsAsJSON().then((metrics) => {
          this.send({ t: 'figures', id: m.id, figures: { index: this.index, pid: process.pid, knownNodes: this.registry.size, lbstat: this.balancer.stats.lbstat(), metrics } });
        });
        return;
      case 'reload':
        void this.reload(m.properties);
        return;
      case 'admin':
        if (normaliseLogLevel(m.logLevel) !== undefined) this.log.level = m.logLevel;
        this.balancer.pins.replaceAll(m.pins);
        return;
      case 'stop':
        this.log.info(`Worker ${this.index} stopping`);
        void this.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            this.log.error({ err }, 'worker shutdown failed');
            process.exit(1);
          },
        );
        return;
    }
  }

  /** Applies the configuration the primary reloaded (validated there; restart keys at their running value). */
  private async reload(properties: Readonly<Record<string, string>>): Promise<void> {
    try {
      await this.balancer.reload(loadConfigRecord(properties, this.config.file).config);
    } catch (err) {
      this.log.error({ err }, `Worker ${this.index} could not apply the reloaded configuration: it keeps its previous one`);
    }
  }

  private send(m: ToPrimary): void {
    if (process.connected) process.send?.(m);
  }
}
