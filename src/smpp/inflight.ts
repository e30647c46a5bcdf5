// Requests relayed on one connection and not yet answered: the connection's own sequence numbers mapped
// back to the sender's, with a deadline. A ring of typed arrays indexed by sequence number (numbers are
// handed out in order), so the relay path allocates nothing; entries share one timeout, so expiry scans
// from the oldest and stops at the first live one.

export interface InflightEntry {
  /** The sequence number the sender used, restored on the response. */
  readonly originalSeq: number;
  readonly commandId: number;
  readonly deadline: number;
  /** Who sent it, as the owner numbers its peers (mux mode: the ESME or upstream id); 0 when unused. */
  readonly origin: number;
}

const MAX_SEQUENCE = 0x7fffffff;
const INITIAL_CAPACITY = 64;

const after = (seq: number): number => (seq >= MAX_SEQUENCE ? 1 : seq + 1);

export class InflightTable {
  private next = 1;
  /** The oldest sequence number that may still be in the table (expiry starts here). */
  private oldest = 1;
  private count = 0;
  private mask = INITIAL_CAPACITY - 1;
  /** The sequence number stored in each slot; 0 marks an empty slot. */
  private seqs = new Int32Array(INITIAL_CAPACITY);
  private originals = new Uint32Array(INITIAL_CAPACITY);
  private commands = new Uint32Array(INITIAL_CAPACITY);
  private deadlines = new Float64Array(INITIAL_CAPACITY);
  private origins = new Uint32Array(INITIAL_CAPACITY);
  /** The entry removed by the last successful take(); overwritten by the next one. */
  readonly taken = { originalSeq: 0, commandId: 0, origin: 0 };

  get size(): number {
    return this.count;
  }

  /** The connection's next sequence number (1 … 0x7FFFFFFF, then 1 again), for requests the broker sends. */
  nextSequence(): number {
    const seq = this.next;
    this.next = after(seq);
    return seq;
  }

  /** Records a relayed request and returns the sequence number it carries on this connection. */
  add(originalSeq: number, commandId: number, deadline: number, origin = 0): number {
    const seq = this.nextSequence();
    if (this.count === 0) this.oldest = seq;
    while (this.seqs[seq & this.mask] !== 0) this.grow();
    const slot = seq & this.mask;
    this.seqs[slot] = seq;
    this.originals[slot] = originalSeq;
    this.commands[slot] = commandId;
    this.deadlines[slot] = deadline;
    this.origins[slot] = origin;
    this.count++;
    return seq;
  }

  /**
   * Removes the entry of a response's sequence number into `taken`; false for an unknown number (not
   * ours, or answered after timeoutResponse).
   */
  take(seq: number): boolean {
    const slot = seq & this.mask;
    if (seq === 0 || this.seqs[slot] !== seq) return false;
    this.taken.originalSeq = this.originals[slot]!;
    this.taken.commandId = this.commands[slot]!;
    this.taken.origin = this.origins[slot]!;
    this.seqs[slot] = 0;
    this.count--;
    return true;
  }

  /** Removes and hands out every entry whose deadline has passed, oldest first. */
  expire(now: number, onExpired: (entry: InflightEntry) => void): void {
    while (this.count > 0) {
      const seq = this.oldest;
      const slot = seq & this.mask;
      if (this.seqs[slot] === seq) {
        if (this.deadlines[slot]! > now) return;
        const entry = this.entryAt(slot);
        this.seqs[slot] = 0;
        this.count--;
        this.oldest = after(seq);
        onExpired(entry);
      } else {
        this.oldest = after(seq);
      }
    }
  }

  /** Removes and hands out every entry, oldest first (the far side is gone). */
  drain(onEntry: (entry: InflightEntry) => void): void {
    const all: InflightEntry[] = [];
    for (let seq = this.oldest; this.count > 0 && seq !== this.next; seq = after(seq)) {
      const slot = seq & this.mask;
      if (this.seqs[slot] !== seq) continue;
      all.push(this.entryAt(slot));
      this.seqs[slot] = 0;
      this.count--;
    }
    this.count = 0;
    this.oldest = this.next;
    for (const entry of all) onEntry(entry);
  }

  private entryAt(slot: number): InflightEntry {
    return { originalSeq: this.originals[slot]!, commandId: this.commands[slot]!, deadline: this.deadlines[slot]!, origin: this.origins[slot]! };
  }

  private grow(): void {
    const { seqs, originals, commands, deadlines, origins } = this;
    let capacity = seqs.length * 2;
    // Sequence numbers wrap at 0x7FFFFFFF, so live ones can clash in a bigger ring too: double until not.
    for (;;) {
      const mask = capacity - 1;
      const used = new Uint8Array(capacity);
      let clash = false;
      for (const seq of seqs) {
        if (seq === 0) continue;
        if (used[seq & mask] !== 0) {
          clash = true;
          break;
        }
        used[seq & mask] = 1;
      }
      if (!clash) break;
      capacity *= 2;
    }
    const mask = capacity - 1;
    this.seqs = new Int32Array(capacity);
    this.originals = new Uint32Array(capacity);
    this.commands = new Uint32Array(capacity);
    this.deadlines = new Float64Array(capacity);
    this.origins = new Uint32Array(capacity);
    for (let i = 0; i < seqs.length; i++) {
      const seq = seqs[i]!;
      if (seq === 0) continue;
      const slot = seq & mask;
      this.seqs[slot] = seq;
      this.originals[slot] = originals[i]!;
      this.commands[slot] = commands[i]!;
      this.deadlines[slot] = deadlines[i]!;
      this.origins[slot] = origins[i]!;
    }
    this.mask = mask;
  }
}
