// Plain counters for the hot paths (a property increment, a Map lookup), exported to Prometheus by
// prom-client collect() callbacks, so that counting costs nothing per message beyond the increment.

import { Counter, Gauge, type Registry } from 'prom-client';

/** A counter per label value (method, status code, command id, transport). */
export class CounterMap<K extends string | number = string> {
  private readonly values = new Map<K, number>();

  inc(key: K, by = 1): void {
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }

  dec(key: K, by = 1): void {
    this.values.set(key, (this.values.get(key) ?? 0) - by);
  }

  get(key: K): number {
    return this.values.get(key) ?? 0;
  }

  total(): number {
    let sum = 0;
    for (const v of this.values.values()) sum += v;
    return sum;
  }

  entries(): IterableIterator<[K, number]> {
    return this.values.entries();
  }

  /** A plain object, keys in insertion order, for /lbstat. */
  toJSON(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.values) out[String(k)] = v;
    return out;
  }
}

/** A Prometheus counter without labels that reads a number when scraped. */
export function promCounter(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A Prometheus counter with one label, read from a CounterMap when scraped. */
export function promCounterMap(registry: Registry, name: string, help: string, label: string, map: CounterMap<string | number>): void {
  new Counter({
    ...labelled(registry, name, help, label),
    collect() {
      this.reset();
      for (const [k, v] of map.entries()) this.inc({ [label]: String(k) }, v);
    },
  });
}

/** A Prometheus gauge with one label, read from a CounterMap when scraped. */
export function promGaugeMap(registry: Registry, name: string, help: string, label: string, map: CounterMap<string | number>): void {
  new Gauge({
    ...labelled(registry, name, help, label),
    collect() {
      this.reset();
      for (const [k, v] of map.entries()) this.set({ [label]: String(k) }, v);
    },
  });
}

function labelled(registry: Registry, name: string, help: string, label: string): { name: string; help: string; labelNames: string[]; registers: Registry[] } {
  return { name, help, labelNames: [label], registers: [registry] };
}
