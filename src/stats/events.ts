// The recent operational events an operator looks for first (nodes joining, leaving, changing state;
// configuration reloads): a small ring of the latest ones for the dashboard, plus reload counters.

export type EventKind = 'node-added' | 'node-removed' | 'node-state' | 'reload' | 'reload-failed' | 'probe';

export interface OperationalEvent {
  /** Milliseconds since the epoch. */
  readonly at: number;
  readonly kind: EventKind;
  readonly text: string;
}

/** Keeps the last `capacity` events, oldest first; memory stays bounded whatever happens. */
export class EventJournal {
  private readonly ring: OperationalEvent[] = [];
  private readonly now: () => number;

  constructor(
    private readonly capacity = 50,
    now?: () => number,
  ) {
    this.now = now ?? Date.now;
  }

  add(kind: EventKind, text: string): void {
    this.ring.push({ at: this.now(), kind, text });
    if (this.ring.length > this.capacity) this.ring.splice(0, this.ring.length - this.capacity);
  }

  /** The kept events, newest first. */
  recent(kinds?: readonly EventKind[]): OperationalEvent[] {
    const out = kinds ? this.ring.filter((e) => kinds.includes(e.kind)) : [...this.ring];
    return out.reverse();
  }
}
