// Periodic work that catches at its boundary: a fault in one round of a sweep, a sample or a probe is a
// rate-limited warning (stack at debug), never an exception that reaches the process-wide handler — which stops
// the daemon — and never a log line per round.

import type { Logger } from './log.js';
import { RateLimitedLog } from './log-limit.js';

let fallback: RateLimitedLog | undefined;

/** Where timers of modules that have no logger of their own report (the daemon's root logger, set at start-up). */
export function setTimerFallbackLog(log: Logger): void {
  fallback = new RateLimitedLog(log);
}

/**
 * `setInterval(fn, ms)`, unref'd, with `fn` guarded: a throw is logged under `what` at most once a minute.
 * Without a logger (here or the fallback) the error is rethrown, so a unit test sees it.
 */
export function guardedInterval(what: string, ms: number, fn: () => void, log?: Logger): NodeJS.Timeout {
  const own = log === undefined ? undefined : new RateLimitedLog(log);
  const timer = setInterval(() => {
    try {
      fn();
    } catch (err) {
      const warnings = own ?? fallback;
      if (warnings === undefined) throw err;
      warnings.warn(`timer:${what}`, `${what} failed: ${(err as Error).message}`, err);
    }
  }, ms);
  timer.unref();
  return timer;
}
