// What a protocol module (SIP forwarder, HTTP balancer, SMPP broker) is to the composition root: built
// from the shared parts, started in order, stopped in reverse order.

import type { Config } from './config/types.js';
import type { Logger } from './log.js';
import type { NodeRegistry } from './registry/node-registry.js';
import type { BalancerAlgorithm } from './algorithms/algorithm.js';
import type { Stats } from './stats/stats.js';
import type { WorkerRelayHook } from './sip/forwarder.js';
import type { BoundListeners } from './bound-listeners.js';

export interface ServiceContext {
  readonly config: Config;
  readonly registry: NodeRegistry;
  readonly algorithm: BalancerAlgorithm;
  readonly stats: Stats;
  /** A child logger named after the service. */
  readonly log: Logger;
  /** With workers: how the SIP forwarder reaches connections another worker holds. */
  readonly sipRelay?: WorkerRelayHook;
  /** Where a service records each listening point it bound (its real port: lb.properties may say 0). */
  readonly listeners?: BoundListeners;
}

export interface Service {
  readonly name: string;
  /** Binds every listening point; rejects (with a clear message) when one cannot be bound. */
  start(): Promise<void>;
  /** Closes listening points and connections; resolves when done. */
  stop(): Promise<void>;
  /**
   * Stops accepting and resolves when the work in flight is done; stop() follows (after an uncaught exception,
   * bounded by shutdownTimeout). Optional: a service without it has nothing in flight worth waiting for.
   */
  drain?(): Promise<void>;
  /**
   * Applies a new, already validated configuration without dropping calls or connections (hot reload). Only the
   * keys that can change live are read from `next`; the reload orchestrator has already kept the old value of every
   * key that needs a restart and logged it. Optional: a service without it has nothing to change live.
   */
  reload?(next: Config): void | Promise<void>;
  /** Sections this service adds to /lbinfo (e.g. `{"SMPP sessions": …}`). Optional. */
  info?(): Record<string, unknown>;
}

// Moved to errors.ts; re-exported until every branch imports it from there.
export { StartupError } from './errors.js';
