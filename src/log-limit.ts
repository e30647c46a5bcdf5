// Rate-limited warnings for anything a peer can trigger at will (bad input, refused sources): one warning per
// cause per interval, carrying how many more happened, and stack traces only at debug — never a log flood.

import type { Logger } from './log.js';

/** Causes remembered at most; causes come from closed sets (drop reasons), so this is only a safety bound. */
const MAX_CAUSES = 256;

interface Window {
  /** End of the current interval (ms). */
  until: number;
  /** Occurrences not logged since the last warning. */
  suppressed: number;
}

export class RateLimitedLog {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly log: Logger,
    readonly intervalMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Counts one occurrence of `cause` and answers whether to log it now: -1 when not (already warned in this
   * interval), else how many occurrences went unlogged before it. For hot paths that must not build a message.
   */
  take(cause: string): number {
    const t = this.now();
    let w = this.windows.get(cause);
    if (w === undefined) {
      if (this.windows.size >= MAX_CAUSES) this.windows.clear();
      w = { until: 0, suppressed: 0 };
      this.windows.set(cause, w);
    }
    if (t < w.until) {
      w.suppressed++;
      return -1;
    }
    const n = w.suppressed;
    w.until = t + this.intervalMs;
    w.suppressed = 0;
    return n;
  }

  /**
   * A warning for `cause`, at most once per interval; the next one says how many were not logged. `err`'s stack
   * goes to the debug level only (a message a peer can provoke must not print a stack trace at warn).
   */
  warn(cause: string, message: string, err?: unknown): void {
    const n = this.take(cause);
    if (n < 0) {
      if (err !== undefined && this.log.isLevelEnabled('debug')) this.log.debug({ err, cause }, message);
      return;
    }
    const more = n > 0 ? ` (${n} more since the last warning of this kind)` : '';
    this.log.warn({ cause, suppressed: n }, `${message}${more}; further ones are logged once per ${Math.round(this.intervalMs / 1000)} s`);
    if (err !== undefined) this.log.debug({ err, cause }, message);
  }
}
