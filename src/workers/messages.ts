// The messages between the primary and its workers over the cluster IPC channel: registry snapshots
// down, relayed registry changes up, statistics on request, and the start/stop handshake.

import type { RegistryOp, RegistrySnapshot } from './registry-sync.js';
import type { PinSpec } from '../algorithms/pins.js';
import type { SipRelayMessage } from './sip-relay.js';
import type { BoundListener } from '../bound-listeners.js';

/** What a worker reports of itself for /lbstat and /metrics. */
export interface WorkerFigures {
  readonly index: number;
  readonly pid: number;
  /** Nodes in the worker's copy of the registry. */
  readonly knownNodes: number;
  /** The worker's /lbstat document. */
  readonly lbstat: Record<string, unknown>;
  /** The worker's Prometheus registry as prom-client's getMetricsAsJSON() returns it. */
  readonly metrics: readonly object[];
}

export type ToWorker =
  | { readonly t: 'snapshot'; readonly snapshot: RegistrySnapshot }
  | { readonly t: 'figures?'; readonly id: number }
  /** A configuration reload the primary applied: the properties in force (restart keys at their running value). */
  | { readonly t: 'reload'; readonly properties: Readonly<Record<string, string>> }
  /** What /lbloglevel and /lbnoderegex set in the primary: every worker follows. */
  | { readonly t: 'admin'; readonly logLevel: string; readonly pins: readonly PinSpec[] }
  | { readonly t: 'stop' }
  | { readonly t: 'sip'; readonly relay: SipRelayMessage };

export type ToPrimary =
  | { readonly t: 'hello' }
  /** Serving, on these listening points (the cluster shares them: port 0 gives every worker the same port). */
  | { readonly t: 'ready'; readonly listeners: readonly BoundListener[] }
  | { readonly t: 'failed'; readonly message: string }
  | { readonly t: 'registry'; readonly op: RegistryOp }
  | { readonly t: 'figures'; readonly id: number; readonly figures: WorkerFigures }
  /** A SIP message or send for the worker that holds its connection (src/workers/sip-relay.ts). */
  | { readonly t: 'sip'; readonly to: number; readonly relay: SipRelayMessage };

/** The environment variable that carries the primary's configuration in force (its properties, JSON) to a worker. */
export const WORKER_CONFIG_ENV = 'SIPBALANCER_WORKER_CONFIG';

/** The environment variable that carries a worker's index (0..workers-1), stable across its restarts. */
export const WORKER_INDEX_ENV = 'SIPBALANCER_WORKER_INDEX';

export function isToWorker(m: unknown): m is ToWorker {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string';
}

export function isToPrimary(m: unknown): m is ToPrimary {
  return typeof m === 'object' && m !== null && typeof (m as { t?: unknown }).t === 'string';
}
