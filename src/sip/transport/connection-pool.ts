// The outbound side of a stream listening point (TCP, TLS, WS, WSS): one pooled connection per remote address,
// reused while open, replaced when closed, opened on the first send. The rule is the same for every stream
// transport; how a connection is opened and what "open" means are the transport's.

import { bareHost } from '../uri.js';

export interface PoolRules<C> {
  /** The listening point's transport (for the error when it is stopped; a subclass such as TLS may name its own). */
  transport(): string;
  /** The connection can still carry messages. */
  isOpen(conn: C): boolean;
  /** No listening point any more: nothing new is opened. */
  stopped(): boolean;
  /** Opens a connection to address:port (may throw on a bad address or port from a header). */
  open(address: string, port: number): C;
}

/** The pool key of host:port ("::ffff:127.0.0.1" and "127.0.0.1" are one address). */
export function poolKey(host: string, port: number): string {
  return `${bareHost(host)}:${port}`;
}

/** The pooled connection to host:port while it is open, else undefined. */
export function openConnection<C>(pool: ReadonlyMap<string, C>, host: string, port: number, rules: Pick<PoolRules<C>, 'isOpen'>): C | undefined {
  const conn = pool.get(poolKey(host, port));
  return conn !== undefined && rules.isOpen(conn) ? conn : undefined;
}

/**
 * The connection to send on: the pooled one while open, else a new one (pooled). Undefined, with `onError` told
 * why, when the listening point is stopped or the address cannot be connected: a failed send, never an exception.
 */
export function connectionFor<C>(pool: Map<string, C>, host: string, port: number, rules: PoolRules<C>, onError?: (err: Error) => void): C | undefined {
  const key = poolKey(host, port);
  const pooled = pool.get(key);
  if (pooled !== undefined) {
    if (rules.isOpen(pooled)) return pooled;
    pool.delete(key);
  }
  if (rules.stopped()) {
    onError?.(new Error(`${rules.transport()} listening point is stopped`));
    return undefined;
  }
  let conn: C;
  try {
    conn = rules.open(bareHost(host), port);
  } catch (err) {
    onError?.(err as Error);
    return undefined;
  }
  pool.set(key, conn);
  return conn;
}
