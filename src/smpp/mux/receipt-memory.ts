// Which ESME submitted which message, so that its delivery receipt goes back to that ESME in mux mode: the
// message_id an SMSC answered (per user space and SMSC) mapped to the ESME, for `muxReceiptLifetime` at most, and no
// more than `muxReceiptMemory` entries (the oldest go first). One memory for the whole broker, so the bound holds
// whatever the number of system_ids. A receipt whose message is not known goes round robin, as in the original.
//
// Written once per submit on the relay path, so it allocates nothing per entry: a ring of typed arrays in age order
// (expiry and eviction take from the front) and an open-addressing index of 64-bit hashes of the message ids. Two
// ids with the same 64-bit hash within one SMSC would send a receipt to another ESME of the same system_id, which is
// what round robin does anyway.

import { fnv1a } from '../../algorithms/hash.js';

const EMPTY = -1;
const INITIAL_CAPACITY = 1024;

function hash2(s: string): number {
  let h = 0x9747b28c ^ s.length;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 13;
  }
  return h >>> 0;
}

export class ReceiptMemory {
  /** Ring slots in use, oldest at `head`; a slot whose esme is 0 was forgotten (final receipt) or expired. */
  private capacity = 0;
  private head = 0;
  private count = 0;
  private live = 0;
  private h1 = new Uint32Array(0);
  private h2 = new Uint32Array(0);
  private scopes = new Uint32Array(0);
  private esmes = new Uint32Array(0);
  private ats = new Float64Array(0);
  /** Hash → ring slot, linear probing. Pointers to reused slots go stale; the index is rebuilt before they pile up. */
  private index = new Int32Array(0);
  private mask = 0;
  private insertsSinceBuild = 0;
  /** Entries dropped to keep the bound (for the log and tests). */
  evicted = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly lifetimeMs: number,
  ) {}

  /** Messages remembered now. */
  get size(): number {
    return this.live;
  }

  /** False when `muxReceiptMemory=0`: nothing is remembered, every receipt goes round robin. */
  get enabled(): boolean {
    return this.maxEntries > 0;
  }

  /** Remembers that ESME `esme` (> 0) submitted `messageId` through `scope` (a user space's SMSC: ids are the SMSC's). */
  remember(scope: number, messageId: string, esme: number, now: number): void {
    if (this.maxEntries === 0) return;
    const a = fnv1a(messageId);
    const b = hash2(messageId);
    const previous = this.find(scope, a, b);
    if (previous !== EMPTY) this.forget(previous); // an SMSC that reuses an id: the latest submitter wins
    if (this.count === this.capacity) {
      if (this.capacity < this.maxEntries) this.resize(Math.min(this.maxEntries, Math.max(INITIAL_CAPACITY, this.capacity * 2)));
      else this.dropOldest(true);
    }
    const slot = (this.head + this.count) % this.capacity;
    this.h1[slot] = a;
    this.h2[slot] = b;
    this.scopes[slot] = scope;
    this.esmes[slot] = esme;
    this.ats[slot] = now;
    this.count++;
    this.live++;
    if (++this.insertsSinceBuild > this.capacity) this.rebuildIndex();
    else this.link(slot);
  }

  /**
   * The ESME that submitted `messageId` through `scope`, or undefined. A final receipt (`last`) forgets the entry;
   * an intermediate notification leaves it for the final one.
   */
  lookup(scope: number, messageId: string, now: number, last: boolean): number | undefined {
    if (this.count === 0) return undefined;
    const slot = this.find(scope, fnv1a(messageId), hash2(messageId));
    if (slot === EMPTY) return undefined;
    const esme = this.esmes[slot]!;
    if (now - this.ats[slot]! >= this.lifetimeMs) {
      this.forget(slot);
      return undefined;
    }
    if (last) this.forget(slot);
    return esme;
  }

  /** Forgets what is older than the lifetime (driven by the broker's sweep). */
  expire(now: number): void {
    while (this.count > 0 && now - this.ats[this.head]! >= this.lifetimeMs) this.dropOldest(false);
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
    this.live = 0;
    this.esmes.fill(0);
    this.index.fill(EMPTY);
    this.insertsSinceBuild = 0;
  }

  /** The live slot holding (scope, hash), or EMPTY. */
  private find(scope: number, a: number, b: number): number {
    if (this.capacity === 0) return EMPTY;
    for (let i = a & this.mask; ; i = (i + 1) & this.mask) {
      const slot = this.index[i]!;
      if (slot === EMPTY) return EMPTY;
      if (this.h1[slot] === a && this.h2[slot] === b && this.scopes[slot] === scope && this.esmes[slot] !== 0 && this.inRing(slot)) return slot;
    }
  }

  private inRing(slot: number): boolean {
    return (slot - this.head + this.capacity) % this.capacity < this.count;
  }

  private forget(slot: number): void {
    if (this.esmes[slot] === 0) return;
    this.esmes[slot] = 0;
    this.live--;
  }

  private dropOldest(evict: boolean): void {
    const slot = this.head;
    if (this.esmes[slot] !== 0) {
      this.esmes[slot] = 0;
      this.live--;
      if (evict) this.evicted++;
    }
    this.head = (this.head + 1) % this.capacity;
    this.count--;
  }

  private link(slot: number): void {
    let i = this.h1[slot]! & this.mask;
    while (this.index[i] !== EMPTY) i = (i + 1) & this.mask;
    this.index[i] = slot;
  }

  /** Live entries plus at most `capacity` stale pointers: an index of 4× the capacity stays at most half full. */
  private rebuildIndex(): void {
    let size = 16;
    while (size < this.capacity * 4) size *= 2;
    if (this.index.length !== size) this.index = new Int32Array(size);
    this.index.fill(EMPTY);
    this.mask = size - 1;
    this.insertsSinceBuild = 0;
    for (let k = 0; k < this.count; k++) {
      const slot = (this.head + k) % this.capacity;
      if (this.esmes[slot] !== 0) this.link(slot);
    }
  }

  /** A bigger ring, entries copied in age order from slot 0. */
  private resize(capacity: number): void {
    const old = { h1: this.h1, h2: this.h2, scopes: this.scopes, esmes: this.esmes, ats: this.ats };
    const oldCapacity = this.capacity;
    this.h1 = new Uint32Array(capacity);
    this.h2 = new Uint32Array(capacity);
    this.scopes = new Uint32Array(capacity);
    this.esmes = new Uint32Array(capacity);
    this.ats = new Float64Array(capacity);
    for (let k = 0; k < this.count; k++) {
      const from = (this.head + k) % oldCapacity;
      this.h1[k] = old.h1[from]!;
      this.h2[k] = old.h2[from]!;
      this.scopes[k] = old.scopes[from]!;
      this.esmes[k] = old.esmes[from]!;
      this.ats[k] = old.ats[from]!;
    }
    this.head = 0;
    this.capacity = capacity;
    this.rebuildIndex();
  }
}
