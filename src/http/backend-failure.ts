// The one rule both HTTP paths (fast path and node:http) follow when a node connection fails before any byte
// of the response came back: count it, keep a refusing node out for a while, and send a repeatable request
// (idempotent method, no body: RFC 9110 §9.2.2) to the next node.

import type { ServerNode } from '../registry/server-node.js';
import type { HttpStats } from './http-stats.js';
import type { HttpNodeChooser, NodeChoice } from './node-chooser.js';
import { isIdempotent } from './headers.js';

/** Further nodes tried after a failed connection (so two dead nodes of three still lose no request). */
export const MAX_RETRIES = 2;

export interface FailedAttempt {
  readonly node: ServerNode;
  /** The errno of the failure (ECONNREFUSED, ECONNRESET, …). */
  readonly code: string | undefined;
  /** The connection was a kept-alive one (pool or agent), which the node may have closed meanwhile. */
  readonly reusedConnection: boolean;
  readonly method: string | undefined;
  readonly hasBody: boolean;
  /** Retries already made for this request. */
  readonly retries: number;
}

export interface FailureRules {
  readonly stats: HttpStats;
  /** How long a node that refused a connection gets no requests. */
  readonly refusedForMs: number;
  readonly maxRetries: number;
}

/**
 * The node to try next after `failed`, or undefined when the request gets a 502. A kept-alive connection the
 * node had closed (a reset on reuse) is not the node's fault: not counted as a backend error, and the same
 * node may take the request again, once more than the retry budget.
 */
export function nodeAfterFailure(
  failed: FailedAttempt,
  rules: FailureRules,
  chooser: HttpNodeChooser | undefined,
  choose: (exclude: ServerNode | undefined) => NodeChoice | undefined,
): NodeChoice | undefined {
  const stale = failed.reusedConnection && failed.code === 'ECONNRESET';
  if (!stale) rules.stats.backendErrors++;
  if (failed.code === 'ECONNREFUSED') chooser?.markRefused(failed.node, rules.refusedForMs);
  if (failed.hasBody || !isIdempotent(failed.method)) return undefined;
  if (failed.retries >= rules.maxRetries + (stale ? 1 : 0)) return undefined;
  return choose(stale ? undefined : failed.node);
}
