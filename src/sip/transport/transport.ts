// The transport interface of the SIP forwarder: a listening point turns bytes into messages, each with the
// Flow it arrived on, and sends bytes on a Flow or to an address. UDP and TCP now; TLS, WS and WSS plug in.

import type { SipTransport, TlsConfig } from '../../config/types.js';
import type { SipMessage } from '../message.js';
import type { SipStats } from '../sip-stats.js';
import type { Logger } from '../../log.js';
import type { StreamLimits } from './stream-limits.js';

/** The side of the balancer a listening point faces: clients (external) or nodes (internal). */
export type Side = 'external' | 'internal';

/** Where a message came from, and the way back to it. */
export interface Flow {
  readonly transport: SipTransport;
  readonly local: ListeningPoint;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /**
   * True on a connection the balancer opened itself (towards a node, or a client on the external side). Such a
   * connection is never taken for a node's unless it leads to a registered node's address (issue 10).
   */
  readonly outbound?: boolean;
  /** Sends on this flow: the same connection for streams, from the same socket for datagrams. */
  send(data: Buffer): void;
}

export interface ListeningPoint {
  readonly transport: SipTransport;
  readonly side: Side;
  /** Address bound (as configured). */
  readonly host: string;
  readonly port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Sends to host:port: a datagram, or on a pooled connection (an inbound one from that address, else a
   * new outbound one). `onError` is called at most once when the send fails.
   */
  sendTo(data: Buffer, host: string, port: number, onError?: (err: Error) => void): void;
  /** Stream transports: true when a connection to or from host:port is open (a node's flow). */
  hasConnection?(host: string, port: number): boolean;
  /**
   * UDP: sends to host:port (a registered node) go out of a socket connected to it from now on, so that an
   * ICMP port unreachable comes back as ECONNREFUSED (an unconnected socket never learns of it).
   */
  watchPeer?(host: string, port: number): void;
  /** Undoes watchPeer (the node is gone). */
  unwatchPeer?(host: string, port: number): void;
}

/** Why a peer is taken for dead: the network said so (ICMP port unreachable, TCP refused or reset). */
export type PeerUnreachable = (host: string, port: number, transport: SipTransport, why: string) => void;

export interface TransportOptions {
  readonly side: Side;
  readonly host: string;
  readonly port: number;
  readonly maxMessageSize: number;
  /** Stream transports: idle connections closed after this many ms (0: never). */
  readonly idleTimeoutMs: number;
  readonly stats: SipStats;
  readonly log: Logger;
  /** Every framed message. */
  readonly onMessage: (message: SipMessage, flow: Flow) => void;
  /** Certificates and policies for the TLS and WSS listening points (config.tls). */
  readonly tls?: TlsConfig;
  /** Stream transports: the connection and unfinished-message limits shared by all of them. */
  readonly streamLimits?: StreamLimits;
  /** Told when the network reports a peer dead (the node reachability watcher marks the node bad). */
  readonly onPeerUnreachable?: PeerUnreachable;
}
