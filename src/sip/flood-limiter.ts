// Flood limits per client source address (issue 16, item 2; Kamailio's pike, HAProxy's stick tables): a source
// sending more than floodRequestsPerSecond SIP requests is banned for floodBanTime, its requests dropped silently
// and counted; other sources are not slowed. The table of sources has a fixed capacity (floodMaxSources): a new
// source evicts the oldest unbanned one, and sources idle for a few seconds are swept, so spoofed addresses
// cannot grow it. The rate is a sliding estimate over two one-second windows (no timestamps kept per request).

export interface FloodLimiterOptions {
  /** Requests per second a source may send; over it, it is banned. */
  readonly requestsPerSecond: number;
  /** How long a ban lasts (ms); a source still over the limit when it ends is banned again. */
  readonly banTimeMs: number;
  /** Sources tracked at most. */
  readonly maxSources: number;
  /** Sources never limited (nodes, the nodeAllowedSources allow-list). Asked once per source per second. */
  readonly exempt: (address: string) => boolean;
  readonly now?: () => number;
}

interface Source {
  readonly address: string;
  /** Start of the current one-second window (on a grid of whole seconds), requests in it, and in the window before. */
  windowStart: number;
  count: number;
  previous: number;
  exempt: boolean;
  bannedUntil: number;
  /** Requests dropped while banned, and bans, since the source was first tracked. */
  dropped: number;
  bans: number;
}

/** One source in /lbstat's list of the worst. */
export interface FloodSourceReport {
  address: string;
  requestsPerSecond: number;
  dropped: number;
  bans: number;
  bannedForMs: number;
}

const WINDOW_MS = 1000;
/** A source idle this long (and not banned) is forgotten by the sweep. */
const IDLE_MS = 3 * WINDOW_MS;
/** Unbanned candidates looked at when the table is full (oldest first). */
const EVICTION_PROBES = 8;

export class FloodLimiter {
  private readonly opts: FloodLimiterOptions;
  private readonly now: () => number;
  /** Insertion order is age: the oldest sources come first when one must make room. */
  private readonly sources = new Map<string, Source>();
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Requests dropped and bans, over all sources (also those evicted since). */
  dropped = 0;
  bans = 0;
  /** Sources evicted to make room for a new one (a sign of many sources, e.g. spoofed). */
  evicted = 0;

  constructor(opts: FloodLimiterOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    this.sweepTimer = setInterval(() => this.sweep(), IDLE_MS);
    this.sweepTimer.unref();
  }

  stop(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  /** Sources tracked now (at most maxSources). */
  get size(): number {
    return this.sources.size;
  }

  /** Counts one request from `address`; false when it must be dropped. */
  allows(address: string): boolean {
    const now = this.now();
    let s = this.sources.get(address);
    if (s === undefined) {
      s = this.track(address, now);
    } else if (now - s.windowStart >= WINDOW_MS) {
      // A new window: the last one becomes the previous (or nothing, after a silent window).
      s.previous = now - s.windowStart >= 2 * WINDOW_MS ? 0 : s.count;
      s.count = 0;
      s.windowStart = now - (now % WINDOW_MS);
      s.exempt = this.opts.exempt(address);
    }
    if (s.exempt) return true;
    s.count++;
    if (now < s.bannedUntil) {
      s.dropped++;
      this.dropped++;
      return false;
    }
    // The sliding estimate can be one request off for a steady source: the limit gets that one request of slack.
    if (rate(s, now) > this.opts.requestsPerSecond + 1) {
      s.bannedUntil = now + this.opts.banTimeMs;
      s.bans++;
      this.bans++;
      s.dropped++;
      this.dropped++;
      return false;
    }
    return true;
  }

  /** The worst `n` sources: banned ones and most dropped first, then by rate. */
  worst(n: number): FloodSourceReport[] {
    const now = this.now();
    const all: FloodSourceReport[] = [];
    for (const s of this.sources.values()) {
      if (s.exempt) continue;
      all.push({
        address: s.address,
        requestsPerSecond: Math.round(rate(s, now)),
        dropped: s.dropped,
        bans: s.bans,
        bannedForMs: Math.max(0, s.bannedUntil - now),
      });
    }
    all.sort((a, b) => b.bannedForMs - a.bannedForMs || b.dropped - a.dropped || b.requestsPerSecond - a.requestsPerSecond);
    return all.slice(0, n);
  }

  /** Forgets idle, unbanned sources. Called by the timer; public for tests. */
  sweep(): void {
    const now = this.now();
    for (const [address, s] of this.sources) {
      if (now - s.windowStart >= IDLE_MS && now >= s.bannedUntil) this.sources.delete(address);
    }
  }

  private track(address: string, now: number): Source {
    if (this.sources.size >= this.opts.maxSources) this.makeRoom(now);
    const s: Source = { address, windowStart: now - (now % WINDOW_MS), count: 0, previous: 0, exempt: this.opts.exempt(address), bannedUntil: 0, dropped: 0, bans: 0 };
    this.sources.set(address, s);
    return s;
  }

  /** Evicts the oldest source that is not banned (among the first few), else the oldest. */
  private makeRoom(now: number): void {
    let victim: string | undefined;
    let probes = 0;
    for (const [address, s] of this.sources) {
      victim ??= address;
      if (now >= s.bannedUntil) {
        victim = address;
        break;
      }
      if (++probes >= EVICTION_PROBES) break;
    }
    if (victim !== undefined) {
      this.sources.delete(victim);
      this.evicted++;
    }
  }
}

/** Requests per second: this window's, plus the part of the previous window still inside the last second. */
function rate(s: Source, now: number): number {
  const elapsed = Math.min(WINDOW_MS, Math.max(0, now - s.windowStart));
  return s.count + s.previous * (1 - elapsed / WINDOW_MS);
}
