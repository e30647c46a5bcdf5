// Event-loop delay and GC pause time of this process, so an operator sees a saturated balancer before
// calls fail: one perf_hooks delay histogram (a libuv timer, nothing per message) and a GC observer.

import { PerformanceObserver, monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { guardedInterval } from '../timers.js';

/** Delay figures: the worse of the current window and the one before (a reading never covers only a few seconds). */
export interface RuntimeFigures {
  readonly eventLoopDelayP50Ms: number;
  readonly eventLoopDelayP99Ms: number;
  readonly eventLoopDelayMaxMs: number;
  /** Since start. */
  readonly gcPauseMsTotal: number;
  readonly gcCount: number;
}

export class RuntimeSampler {
  private delay: IntervalHistogram | undefined;
  private previous = { p50: 0, p99: 0, max: 0 };
  private observer: PerformanceObserver | undefined;
  private roll: NodeJS.Timeout | undefined;
  private gcMs = 0;
  private gcs = 0;

  constructor(
    /** The delay histogram's sampling period. */
    private readonly resolutionMs = 20,
    /** Length of one window of delay figures. */
    private readonly windowMs = 30_000,
  ) {}

  start(): void {
    if (this.delay) return;
    this.delay = monitorEventLoopDelay({ resolution: this.resolutionMs });
    this.delay.enable();
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        this.gcMs += e.duration;
        this.gcs++;
      }
    });
    this.observer.observe({ entryTypes: ['gc'] });
    this.roll = guardedInterval('Runtime statistics window', this.windowMs, () => this.rollWindow());
  }

  stop(): void {
    this.delay?.disable();
    this.delay = undefined;
    this.observer?.disconnect();
    this.observer = undefined;
    if (this.roll) clearInterval(this.roll);
    this.roll = undefined;
  }

  private rollWindow(): void {
    if (!this.delay) return;
    this.previous = this.current();
    this.delay.reset();
  }

  /** The current window in milliseconds (the histogram counts nanoseconds; an empty one reads its extremes). */
  private current(): { p50: number; p99: number; max: number } {
    const h = this.delay;
    if (!h || h.count === 0) return { p50: 0, p99: 0, max: 0 };
    // The histogram holds the interval between samples: the delay is what exceeds the sampling period.
    const ms = (ns: number): number => Math.max(0, Math.round((ns - this.resolutionMs * 1e6) / 1e4) / 100);
    return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
  }

  /** Samples of the loop's delay taken so far in this window. */
  get samples(): number {
    return this.delay?.count ?? 0;
  }

  figures(): RuntimeFigures {
    const now = this.current();
    const before = this.previous;
    return {
      eventLoopDelayP50Ms: Math.max(now.p50, before.p50),
      eventLoopDelayP99Ms: Math.max(now.p99, before.p99),
      eventLoopDelayMaxMs: Math.max(now.max, before.max),
      gcPauseMsTotal: Math.round(this.gcMs * 100) / 100,
      gcCount: this.gcs,
    };
  }
}
