// Chooses the node for a new call: a smooth weighted round robin (nginx's) over the active nodes, with
// each node's `weight` property and slow start for nodes that just joined (trafficRampupCyclePeriod,
// trafficPercentageIncrease). With every weight 1 and no ramp-up it is a plain round robin.

import type { ServerNode } from '../registry/server-node.js';

export interface RampUpOptions {
  /** Length of one ramp-up step, ms; undefined or 0 switches ramp-up off. */
  readonly cyclePeriodMs?: number;
  /** Share of its full weight a new node gains per step, percent (1..100). */
  readonly percentageIncrease?: number;
}

export interface NewCallPickerOptions {
  readonly rampUp?: RampUpOptions;
  /** Read each node's `weight` property (else every node weighs 1). */
  readonly useWeights?: boolean;
  readonly now?: () => number;
}

/** A node's `weight` property: a finite number ≥ 0, default 1 (0 means no new calls). */
export function nodeWeight(node: ServerNode): number {
  const raw = node.properties.weight;
  if (raw === undefined || raw.trim() === '') return 1;
  const w = Number(raw);
  return Number.isFinite(w) && w >= 0 ? w : 1;
}

/**
 * The share of its weight a node has `elapsedMs` after joining: the original's cycle rule (a new node
 * starts at one step of `percentageIncrease` and gains one step per cycle), per node rather than for all.
 */
export function rampUpFraction(elapsedMs: number, opts: RampUpOptions | undefined): number {
  const period = opts?.cyclePeriodMs ?? 0;
  const pct = opts?.percentageIncrease ?? 0;
  if (period <= 0 || pct <= 0) return 1;
  return Math.min(1, ((1 + Math.floor(Math.max(0, elapsedMs) / period)) * pct) / 100);
}

export class NewCallPicker {
  private nodes: ServerNode[] = [];
  private weights = new Float64Array(0);
  private current = new Float64Array(0);
  private total = 0;
  /** When each node id was first seen active, for ramp-up. */
  private readonly joinedAt = new Map<string, number>();
  private nextRecomputeAt = Infinity;
  private readonly now: () => number;

  constructor(private readonly opts: NewCallPickerOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  /** The active nodes, in a stable order. */
  update(nodes: readonly ServerNode[]): void {
    const now = this.now();
    const ids = new Set<string>();
    for (const n of nodes) {
      ids.add(n.id);
      if (!this.joinedAt.has(n.id)) this.joinedAt.set(n.id, now);
    }
    // A node that leaves and comes back ramps up again.
    for (const id of this.joinedAt.keys()) if (!ids.has(id)) this.joinedAt.delete(id);
    this.nodes = [...nodes];
    this.current = new Float64Array(nodes.length);
    this.recompute(now);
  }

  get size(): number {
    return this.nodes.length;
  }

  /** The node's weight now (its `weight` × its ramp-up share), 0 for an unknown node. */
  effectiveWeight(node: ServerNode): number {
    this.refresh();
    const i = this.nodes.indexOf(node);
    return i < 0 ? 0 : this.weights[i]!;
  }

  /** The effective weight of `candidates[index]`. */
  weightAt(index: number): number {
    this.refresh();
    return this.weights[index] ?? 0;
  }

  /** The nodes the picker chooses among, in a stable order. */
  get candidates(): readonly ServerNode[] {
    return this.nodes;
  }

  pick(): ServerNode | undefined {
    this.refresh();
    const n = this.nodes.length;
    if (n === 0 || this.total <= 0) return undefined;
    let best = -1;
    let bestValue = -Infinity;
    for (let i = 0; i < n; i++) {
      const w = this.weights[i]!;
      if (w <= 0) continue;
      const c = (this.current[i]! += w);
      if (c > bestValue) {
        bestValue = c;
        best = i;
      }
    }
    this.current[best]! -= this.total;
    return this.nodes[best];
  }

  private refresh(): void {
    if (this.nextRecomputeAt !== Infinity) {
      const now = this.now();
      if (now >= this.nextRecomputeAt) this.recompute(now);
    }
  }

  private recompute(now: number): void {
    const n = this.nodes.length;
    this.weights = new Float64Array(n);
    this.total = 0;
    let ramping = false;
    const rampUp = this.opts.rampUp;
    for (let i = 0; i < n; i++) {
      const node = this.nodes[i]!;
      const fraction = rampUpFraction(now - (this.joinedAt.get(node.id) ?? now), rampUp);
      if (fraction < 1) ramping = true;
      const w = (this.opts.useWeights ? nodeWeight(node) : 1) * fraction;
      this.weights[i] = w;
      this.total += w;
    }
    const period = rampUp?.cyclePeriodMs ?? 0;
    this.nextRecomputeAt = ramping && period > 0 ? now + Math.min(period, 1000) : Infinity;
  }
}

/** The ramp-up options of the configuration. */
export function rampUpOf(algorithm: { readonly trafficRampupCyclePeriodMs?: number; readonly trafficPercentageIncrease?: number }): RampUpOptions {
  return { cyclePeriodMs: algorithm.trafficRampupCyclePeriodMs, percentageIncrease: algorithm.trafficPercentageIncrease };
}
