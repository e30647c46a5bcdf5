// Which ESME submitted which message, so that its delivery receipt goes back to that ESME in mux mode: the
// message_id an SMSC answered (per upstream bind) mapped to the ESME, for `muxReceiptLifetime` at most, and no
// more than `muxReceiptMemory` entries (the oldest go first). One memory for the whole broker, so the bound holds
// whatever the number of system_ids. A receipt whose message is not known goes round robin, as in the original.

export class ReceiptMemory {
  /** Insertion order is age order: expiry and eviction take from the front. */
  private readonly entries = new Map<string, { readonly esme: number; readonly at: number }>();
  /** Entries dropped to keep the bound (for the log and tests). */
  evicted = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly lifetimeMs: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** False when `muxReceiptMemory=0`: nothing is remembered, every receipt goes round robin. */
  get enabled(): boolean {
    return this.maxEntries > 0;
  }

  /** Remembers that `esme` submitted `messageId` through `scope` (a user space's SMSC: ids are the SMSC's). */
  remember(scope: string, messageId: string, esme: number, now: number): void {
    if (this.maxEntries === 0) return;
    const key = `${scope}/${messageId}`;
    this.entries.delete(key); // an SMSC that reuses an id: the latest submitter wins, at the back
    this.entries.set(key, { esme, at: now });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.evicted++;
    }
  }

  /**
   * The ESME that submitted `messageId` through `scope`, or undefined. A final receipt (`last`) forgets the
   * entry; an intermediate notification leaves it for the final one.
   */
  lookup(scope: string, messageId: string, now: number, last: boolean): number | undefined {
    const key = `${scope}/${messageId}`;
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (now - entry.at >= this.lifetimeMs || last) this.entries.delete(key);
    return now - entry.at >= this.lifetimeMs ? undefined : entry.esme;
  }

  /** Forgets what is older than the lifetime (driven by the broker's sweep). */
  expire(now: number): void {
    for (const [key, entry] of this.entries) {
      if (now - entry.at < this.lifetimeMs) return;
      this.entries.delete(key);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
