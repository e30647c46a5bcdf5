// Requests relayed on one connection and not yet answered: the connection's own sequence numbers mapped
// back to the sender's, with a deadline. Entries are kept in send order, so expiry stops at the first live one.

export interface InflightEntry {
  /** The sequence number the sender used, restored on the response. */
  readonly originalSeq: number;
  readonly commandId: number;
  readonly deadline: number;
}

const MAX_SEQUENCE = 0x7fffffff;

export class InflightTable {
  private next = 1;
  private readonly entries = new Map<number, InflightEntry>();

  get size(): number {
    return this.entries.size;
  }

  /** The connection's next sequence number (1 … 0x7FFFFFFF, then 1 again), for requests the broker sends. */
  nextSequence(): number {
    const seq = this.next;
    this.next = seq >= MAX_SEQUENCE ? 1 : seq + 1;
    return seq;
  }

  /** Records a relayed request and returns the sequence number it carries on this connection. */
  add(originalSeq: number, commandId: number, deadline: number): number {
    const seq = this.nextSequence();
    this.entries.set(seq, { originalSeq, commandId, deadline });
    return seq;
  }

  /** The entry for a response's sequence number, removed; undefined for an unknown or expired one. */
  take(seq: number): InflightEntry | undefined {
    const entry = this.entries.get(seq);
    if (entry !== undefined) this.entries.delete(seq);
    return entry;
  }

  /** Removes and hands out every entry whose deadline has passed (all share one timeout, so they are in order). */
  expire(now: number, onExpired: (entry: InflightEntry) => void): void {
    for (const [seq, entry] of this.entries) {
      if (entry.deadline > now) return;
      this.entries.delete(seq);
      onExpired(entry);
    }
  }

  /** Removes and hands out every entry (the far side is gone). */
  drain(onEntry: (entry: InflightEntry) => void): void {
    const all = [...this.entries.values()];
    this.entries.clear();
    for (const entry of all) onEntry(entry);
  }
}
