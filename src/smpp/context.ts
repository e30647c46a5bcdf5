// What every ESME side, SMSC side and session of the broker shares, built once by the broker.

import type { SmppConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { RateLimitedLog } from '../log-limit.js';
import type { SmppStats } from './smpp-stats.js';
import type { SmscConnectOptions } from './smsc-connect.js';

export interface SmppContext {
  readonly config: SmppConfig;
  readonly stats: SmppStats;
  readonly log: Logger;
  /**
   * Warnings a peer can provoke again and again (an SMSC that refuses, garbles or goes silent; ESMEs that bind
   * with made-up credentials or go quiet): at most one line per kind per minute, with the count of the others.
   */
  readonly warnings: RateLimitedLog;
  /** How upstream connections are opened (TLS, local address, time limits). */
  readonly connect: Omit<SmscConnectOptions, 'countBytes' | 'countBind' | 'onSocketOpen' | 'onSocketClose' | 'onConnected'>;
  /**
   * Mux mode's supervision: enquire_link only when the connection is idle, and 3× the check timeout of
   * silence after it before giving up. Regular mode: enquire_link every timeoutEnquire, 1× the check timeout.
   */
  readonly idleSupervision: boolean;
  /** False in mux mode: bind, bind_resp, unbind and unbind_resp bytes stay out of the byte counters. */
  readonly countSessionBytes: boolean;
}

/** Supervision step shared by both sides: what to do with one connection's liveness now. */
export type Supervision = 'ok' | 'send-enquire' | 'dead';

/**
 * Decides enquire_link supervision for one connection. `lastEnquireAt` is when this side last probed (or
 * was bound); `enquireSentAt` is the unanswered probe's time, or 0; any PDU received counts as an answer.
 */
export function supervise(
  ctx: SmppContext,
  now: number,
  lastReceivedAt: number,
  enquireSentAt: number,
  lastEnquireAt: number,
  checkMs: number,
): Supervision {
  const { timeoutEnquireMs } = ctx.config;
  const outstanding = enquireSentAt !== 0 && lastReceivedAt < enquireSentAt;
  if (ctx.idleSupervision) {
    if (outstanding && now - enquireSentAt >= 3 * checkMs) return 'dead';
    if (!outstanding && now - lastReceivedAt >= timeoutEnquireMs && now - lastEnquireAt >= timeoutEnquireMs) return 'send-enquire';
    return 'ok';
  }
  if (outstanding && now - enquireSentAt >= checkMs) return 'dead';
  if (!outstanding && now - lastEnquireAt >= timeoutEnquireMs) return 'send-enquire';
  return 'ok';
}
