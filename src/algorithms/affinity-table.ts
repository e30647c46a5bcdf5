// A bounded key → node table for the affinity algorithms: at most `maxEntries` keys, least recently used
// evicted first, idle keys expired by a walk from the oldest end. Per entry the JavaScript heap holds only
// the key string and its Map slot; node, age and LRU links live in typed arrays (off the heap, no GC work).

import type { ServerNode } from '../registry/server-node.js';

/** What the table has done, for /lbstat AlgorithmStatistics and /metrics. */
export interface AffinityTableStats {
  entries: number;
  /** Entries dropped because the table was full (least recently used first). */
  evictedFull: number;
  /** Entries dropped because they were idle longer than callIdAffinityMaxTimeInCache. */
  expired: number;
}

const NONE = -1;

/** callIdAffinityMaxEntries's default: about 145 B of heap each (measured, 45-byte Call-IDs), so ~30 MB at most. */
export { DEFAULT_AFFINITY_MAX_ENTRIES as DEFAULT_MAX_ENTRIES } from '../config/algorithm-section.js';

export class AffinityTable {
  private readonly index = new Map<string, number>();
  private keys: (string | undefined)[] = [];
  private slotOf: Int32Array;
  /** Last use, in milliseconds since the epoch. */
  private usedAt: Float64Array;
  private prev: Int32Array;
  private next: Int32Array;
  /** Least recently used (evicted first) and most recently used ends of the list. */
  private head = NONE;
  private tail = NONE;
  private free: number[] = [];
  private used = 0;
  /** Nodes by slot, and their slot by node id: a node keeps its slot for the table's lifetime. */
  private readonly nodes: ServerNode[] = [];
  private readonly slots = new Map<string, number>();
  private perSlot: Int32Array = new Int32Array(8);
  private evictedFull = 0;
  private expired = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxIdleMs: number,
    private readonly now: () => number = Date.now,
  ) {
    const initial = Math.min(1024, maxEntries);
    this.slotOf = new Int32Array(initial);
    this.usedAt = new Float64Array(initial);
    this.prev = new Int32Array(initial);
    this.next = new Int32Array(initial);
  }

  get size(): number {
    return this.index.size;
  }

  /** The key's node, marking it used; undefined when the table does not hold the key. */
  get(key: string): ServerNode | undefined {
    const i = this.index.get(key);
    if (i === undefined) return undefined;
    this.touch(i);
    return this.nodes[this.slotOf[i]!];
  }

  /** The key's node without marking it used. */
  peek(key: string): ServerNode | undefined {
    const i = this.index.get(key);
    return i === undefined ? undefined : this.nodes[this.slotOf[i]!];
  }

  set(key: string, node: ServerNode): void {
    const slot = this.slotFor(node);
    const i = this.index.get(key);
    if (i !== undefined) {
      this.touch(i);
      this.move(i, slot);
      return;
    }
    if (this.index.size >= this.maxEntries) {
      this.remove(this.head);
      this.evictedFull++;
    }
    const j = this.allocate();
    this.keys[j] = key;
    this.slotOf[j] = slot;
    this.perSlot[slot]!++;
    this.index.set(key, j);
    this.usedAt[j] = this.now();
    this.link(j);
  }

  delete(key: string): void {
    const i = this.index.get(key);
    if (i !== undefined) this.remove(i);
  }

  /** Entries held per node. */
  countOf(node: ServerNode): number {
    const slot = this.slots.get(node.id);
    return slot === undefined ? 0 : this.perSlot[slot]!;
  }

  /** Moves every entry of `from` to the node `to(…)` returns (called once per entry); stops when it returns undefined. */
  reassign(from: ServerNode, to: () => ServerNode | undefined): number {
    const slot = this.slots.get(from.id);
    if (slot === undefined || this.perSlot[slot] === 0) return 0;
    let moved = 0;
    for (let i = this.head; i !== NONE; i = this.next[i]!) {
      if (this.slotOf[i] !== slot) continue;
      const target = to();
      if (!target) break;
      this.move(i, this.slotFor(target));
      moved++;
    }
    return moved;
  }

  /** Drops the entries idle longer than the limit: a walk from the least recently used end, no full scan. */
  evictIdle(): void {
    if (this.maxIdleMs <= 0) return;
    const deadline = this.now() - this.maxIdleMs;
    while (this.head !== NONE && this.usedAt[this.head]! < deadline) {
      this.remove(this.head);
      this.expired++;
    }
  }

  clear(): void {
    this.index.clear();
    this.keys = [];
    this.free = [];
    this.used = 0;
    this.head = this.tail = NONE;
    this.perSlot.fill(0);
  }

  stats(): AffinityTableStats {
    return { entries: this.index.size, evictedFull: this.evictedFull, expired: this.expired };
  }

  private slotFor(node: ServerNode): number {
    let slot = this.slots.get(node.id);
    if (slot === undefined) {
      slot = this.nodes.length;
      this.slots.set(node.id, slot);
      if (slot >= this.perSlot.length) this.perSlot = grow(this.perSlot, this.perSlot.length * 2);
    }
    // The same id may come back as a new ServerNode object (re-registered): keep the newest.
    this.nodes[slot] = node;
    return slot;
  }

  private move(i: number, slot: number): void {
    const old = this.slotOf[i]!;
    if (old === slot) return;
    this.perSlot[old]!--;
    this.perSlot[slot]!++;
    this.slotOf[i] = slot;
  }

  private allocate(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.used === this.slotOf.length) {
      const size = Math.min(this.maxEntries, this.used * 2);
      this.slotOf = grow(this.slotOf, size);
      this.usedAt = grow(this.usedAt, size);
      this.prev = grow(this.prev, size);
      this.next = grow(this.next, size);
    }
    return this.used++;
  }

  private remove(i: number): void {
    this.index.delete(this.keys[i]!);
    this.keys[i] = undefined;
    this.perSlot[this.slotOf[i]!]!--;
    this.unlink(i);
    this.free.push(i);
  }

  private touch(i: number): void {
    this.usedAt[i] = this.now();
    if (this.tail === i) return;
    this.unlink(i);
    this.link(i);
  }

  /** Appends i at the most recently used end. */
  private link(i: number): void {
    this.prev[i] = this.tail;
    this.next[i] = NONE;
    if (this.tail !== NONE) this.next[this.tail] = i;
    else this.head = i;
    this.tail = i;
  }

  private unlink(i: number): void {
    const p = this.prev[i]!;
    const n = this.next[i]!;
    if (p !== NONE) this.next[p] = n;
    else this.head = n;
    if (n !== NONE) this.prev[n] = p;
    else this.tail = p;
  }
}

function grow<T extends Int32Array | Float64Array>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}
