// Keep-alive connections from the fast path to the nodes: a pool of idle links per node address, most
// recently used first, with listeners set once per connection and one coarse timer that closes stale ones.

import net, { type Socket } from 'node:net';
import { guardedInterval } from '../timers.js';

const BACKEND_IDLE_MS = 30_000;
const MAX_IDLE_PER_TARGET = 256;

export type NetError = Error & { code?: string };

/** Receives what happens on a node connection while it serves one exchange. */
export interface BackendOwner {
  backendData(link: BackendLink, chunk: Buffer): void;
  backendEnded(link: BackendLink): void;
  backendFailed(link: BackendLink, err: NetError): void;
}

/** Opens a connection to a node (net.connect; a unit test gives its own). */
export type Connector = (host: string, port: number) => Socket;

const netConnect: Connector = (host, port) => net.connect({ host, port, noDelay: true });

/**
 * A keep-alive connection to a node with listeners set once; events go to the exchange that owns it, and
 * an idle connection that speaks or closes is dropped. No listener churn per request.
 */
export class BackendLink {
  owner: BackendOwner | undefined;
  idleSince = 0;
  constructor(readonly socket: Socket, readonly key: string, private readonly pool: BackendPool) {
    socket.on('data', (chunk: Buffer) => {
      if (this.owner) this.owner.backendData(this, chunk);
      else this.pool.drop(this); // bytes from an idle connection answer nothing: unusable
    });
    socket.on('end', () => {
      if (this.owner) this.owner.backendEnded(this);
      else this.pool.drop(this);
    });
    socket.on('error', (err: NetError) => {
      if (this.owner) this.owner.backendFailed(this, err);
      else this.pool.drop(this);
    });
    socket.on('close', () => {
      if (this.owner) this.owner.backendFailed(this, Object.assign(new Error('node closed the connection'), { code: 'ECONNRESET' }));
      else this.pool.drop(this);
    });
  }
}

/** Idle keep-alive connections to nodes, most recently used first; one coarse timer closes stale ones. */
export class BackendPool {
  private readonly idle = new Map<string, BackendLink[]>();
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(private readonly connect: Connector = netConnect) {
    this.sweepTimer = guardedInterval('HTTP backend pool sweep', BACKEND_IDLE_MS / 2, () => this.sweep());
  }

  acquire(host: string, port: number, owner: BackendOwner): { link: BackendLink; reused: boolean } {
    const key = `${host}:${port}`;
    const list = this.idle.get(key);
    while (list !== undefined && list.length > 0) {
      const link = list.pop()!;
      if (!link.socket.destroyed) {
        link.owner = owner;
        return { link, reused: true };
      }
    }
    const link = new BackendLink(this.connect(host, port), key, this);
    link.owner = owner;
    return { link, reused: false };
  }

  release(link: BackendLink): void {
    link.owner = undefined;
    let list = this.idle.get(link.key);
    if (list === undefined) {
      list = [];
      this.idle.set(link.key, list);
    }
    if (list.length >= MAX_IDLE_PER_TARGET || link.socket.destroyed) {
      link.socket.destroy();
      return;
    }
    link.idleSince = Date.now();
    list.push(link);
  }

  drop(link: BackendLink): void {
    link.owner = undefined;
    const list = this.idle.get(link.key);
    const at = list === undefined ? -1 : list.indexOf(link);
    if (at >= 0) list!.splice(at, 1);
    link.socket.destroy();
  }

  /** Idle connections held, for tests and diagnostics. */
  get idleCount(): number {
    let n = 0;
    for (const list of this.idle.values()) n += list.length;
    return n;
  }

  private sweep(): void {
    const limit = Date.now() - BACKEND_IDLE_MS;
    for (const list of this.idle.values()) {
      // Oldest first: the list is used from its end.
      while (list.length > 0 && list[0]!.idleSince < limit) list.shift()!.socket.destroy();
    }
  }

  destroy(): void {
    clearInterval(this.sweepTimer);
    for (const list of this.idle.values()) for (const link of list) link.socket.destroy();
    this.idle.clear();
  }
}
