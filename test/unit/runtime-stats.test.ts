// The runtime figures an operator watches for saturation: a blocked event loop shows as delay, and GC runs
// are counted with their pause time.

import { afterEach, describe, expect, it } from 'vitest';
import { RuntimeSampler } from '../../src/stats/runtime.js';
import { Stats } from '../../src/stats/stats.js';
import { waitUntil } from '../helpers/wait.js';

const samplers: RuntimeSampler[] = [];
afterEach(() => {
  for (const s of samplers.splice(0)) s.stop();
});

describe('RuntimeSampler', () => {
  it('shows a blocked event loop as delay (max and p99)', async () => {
    const s = new RuntimeSampler(10);
    samplers.push(s);
    s.start();
    await waitUntil(() => s.samples > 0);
    expect(s.figures().eventLoopDelayMaxMs).toBeLessThan(100);
    const t = Date.now();
    while (Date.now() - t < 150) {
      /* block the loop as a saturated balancer would */
    }
    await waitUntil(() => s.figures().eventLoopDelayMaxMs >= 100);
    expect(s.figures().eventLoopDelayMaxMs).toBeLessThan(10_000);
  });

  it('counts garbage collections and their pause time', async () => {
    const s = new RuntimeSampler();
    samplers.push(s);
    s.start();
    let keep: unknown[] = [];
    await waitUntil(() => {
      // Young-generation churn: many short-lived objects.
      keep = [];
      for (let i = 0; i < 200_000; i++) keep.push({ i });
      return s.figures().gcCount > 0;
    });
    expect(keep.length).toBe(200_000);
    expect(s.figures().gcPauseMsTotal).toBeGreaterThan(0);
  });

  it('is reported in /lbstat and /metrics', async () => {
    const stats = new Stats({ defaultMetrics: false });
    samplers.push(stats.runtime);
    stats.runtime.start();
    await waitUntil(() => stats.runtime.samples > 0);
    const t = Date.now();
    while (Date.now() - t < 250) {
      /* a stall */
    }
    await waitUntil(() => stats.runtime.figures().eventLoopDelayMaxMs >= 100);
    const m = stats.lbstat().Metrics;
    expect(m.EventLoopDelayMaxMs).toBeGreaterThanOrEqual(100);
    expect(typeof m.EventLoopDelayP50Ms).toBe('number');
    expect(typeof m.EventLoopDelayP99Ms).toBe('number');
    expect(typeof m.GcPauseMsTotal).toBe('number');
    const text = await stats.registry.metrics();
    const max = /^sipbalancer_event_loop_delay_seconds\{quantile="1"\} ([\d.e-]+)$/m.exec(text);
    expect(Number(max?.[1])).toBeGreaterThanOrEqual(0.1);
    expect(text).toMatch(/^sipbalancer_gc_pause_seconds_total [\d.e-]+$/m);
  });
});
