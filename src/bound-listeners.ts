// What the daemon actually bound: each listening point once, by the lb.properties key that configured it, with
// the port the operating system gave it (a port of 0 in lb.properties binds any free one). Logged at start-up, one
// line per listener, and shown in /lbinfo, so that a daemon started on port 0 (tests, several instances on one
// host) says where it can be reached.

import type { AddressInfo } from 'node:net';
import type { Logger } from './log.js';
import type { Config } from './config/types.js';

export interface BoundListener {
  /** The key that configured it: externalUdpPort, internalWssPort, httpPort, smppPort, heartbeatPort, statisticPort, … */
  readonly key: string;
  readonly protocol: 'udp' | 'tcp';
  readonly host: string;
  readonly port: number;
}

/** The port a listening server or a bound socket has (its address() after listen or bind). */
export function boundPort(bound: { address(): AddressInfo | string | null }): number {
  const address = bound.address();
  if (address === null || typeof address === 'string') throw new Error('not bound to an IP port');
  return address.port;
}

export class BoundListeners {
  private readonly list: BoundListener[] = [];

  /** `log` undefined: record without logging (a worker, whose listeners its primary reports). */
  constructor(private readonly log: Logger | undefined) {}

  /** Records a listener and logs it; returns its port. */
  add(key: string, protocol: 'udp' | 'tcp', host: string, port: number): number {
    const listener: BoundListener = { key, protocol, host, port };
    this.list.push(listener);
    this.announce(listener);
    return port;
  }

  /**
   * Records listeners another process bound (the workers' shared ports, in the primary): each worker reports the
   * same ones, so only a new or changed listener is logged.
   */
  adopt(listeners: readonly BoundListener[]): void {
    for (const l of listeners) {
      const i = this.list.findIndex((o) => o.key === l.key && o.host === l.host);
      const known = this.list[i];
      if (known && known.port === l.port && known.protocol === l.protocol) continue;
      if (known) this.list[i] = l;
      else this.list.push(l);
      this.announce(l);
    }
  }

  all(): readonly BoundListener[] {
    return this.list;
  }

  private announce(l: BoundListener): void {
    this.log?.info({ listener: l.key, protocol: l.protocol, host: l.host, port: l.port }, `Listening on ${l.host}:${l.port} (${l.key}, ${l.protocol})`);
  }
}

/** True when a listener the workers share is configured on port 0 (any free port). */
export function sharesAnyFreePort(config: Config): boolean {
  const { sip, http, smpp } = config;
  const sipPorts = [sip.external, sip.internal, sip.externalIpv6, sip.internalIpv6].flatMap((ports) => Object.values(ports));
  return [...sipPorts, http.port, http.httpsPort, smpp.port, smpp.sslPort].includes(0);
}
