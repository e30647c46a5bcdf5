// With workers, a SIP connection (TCP, TLS, WS, WSS) lives in the worker that accepted or opened it, while a
// datagram or a node's new connection may reach any worker. So what is bound for a connection carries the index
// of the worker holding it: `;lbw=<index>` on the balancer's Vias of a request that came on a connection (its
// responses come back through that worker) and on the Contact of a client on a connection (a node's requests
// address it). The worker that gets such a message hands it, over the cluster's IPC channel through the
// primary, to the worker named: a response whole (that worker handles it as if it had read it), a node's
// request as the bytes to send.

import type { Side, Flow, ListeningPoint } from '../sip/transport/transport.js';
import type { SipTransport } from '../config/types.js';
import type { WorkerRelayHook } from '../sip/forwarder.js';
import type { Logger } from '../log.js';
import { parseDatagram, type SipMessage } from '../sip/message.js';
import { paramOf, parseUri, uriOfNameAddr } from '../sip/uri.js';
import { rewriteContacts, withUriParams, withoutUriParam } from '../sip/transport/legs.js';

/** The parameter (of the balancer's Vias, and of a connected client's Contact URI) that names a worker. */
export const WORKER_PARAM = 'lbw';

/** What one worker hands another (through the primary). Message bytes travel as latin1 text (JSON IPC). */
export type SipRelayMessage =
  | {
      /** A message read by another worker, to be handled here as if read on this flow. */
      readonly kind: 'message';
      readonly side: Side;
      readonly transport: SipTransport;
      readonly remoteAddress: string;
      readonly remotePort: number;
      readonly outbound: boolean;
      /** The worker that read it (its flow's replies go back there). */
      readonly from: number;
      readonly data: string;
    }
  | {
      /** Bytes to send from this worker's listening point of that side and transport. */
      readonly kind: 'send';
      readonly side: Side;
      readonly transport: SipTransport;
      readonly host: string;
      readonly port: number;
      readonly data: string;
    };

export class SipRelay implements WorkerRelayHook {
  readonly viaParam: string;
  /** Messages and sends handed to other workers, and taken from them (for /metrics). */
  handedOver = 0;
  takenOver = 0;
  /** Handed-over messages or sends that found no listening point or no parseable message here. */
  lost = 0;
  private points: readonly ListeningPoint[] = [];
  private deliver: ((msg: SipMessage, flow: Flow) => void) | undefined;
  /** The flows of messages handed over by another worker, with that worker's index. */
  private readonly relayed = new WeakMap<Flow, number>();

  constructor(
    readonly index: number,
    private readonly workers: number,
    private readonly post: (to: number, m: SipRelayMessage) => void,
    private readonly log: Logger,
  ) {
    this.viaParam = `;${WORKER_PARAM}=${index}`;
  }

  attach(deliver: (msg: SipMessage, flow: Flow) => void, points: readonly ListeningPoint[]): void {
    this.deliver = deliver;
    this.points = points;
  }

  handOver(msg: SipMessage, flow: Flow): boolean {
    // A message handed over once is handled where it arrives, whatever it says.
    if (this.relayed.has(flow)) return false;
    const via = msg.topVia;
    if (!via) return false;
    let owner: number | undefined;
    for (const [k, v] of via.params) if (k === WORKER_PARAM) owner = this.workerNumber(v);
    if (owner === undefined) return false;
    this.handedOver++;
    this.post(owner, {
      kind: 'message',
      side: flow.local.side,
      transport: flow.transport,
      remoteAddress: flow.remoteAddress,
      remotePort: flow.remotePort,
      outbound: flow.outbound === true,
      from: this.index,
      data: msg.toBuffer().toString('latin1'),
    });
    return true;
  }

  markContacts(msg: SipMessage, flow: Flow): void {
    const owner = this.relayed.get(flow) ?? this.index;
    rewriteContacts(msg, (value) => markContact(value, owner));
  }

  ownerOf(msg: SipMessage): number | undefined {
    const ruri = msg.requestUri;
    if (!ruri.includes(`;${WORKER_PARAM}=`)) return undefined;
    const value = paramOf(parseUri(ruri)?.params ?? '', WORKER_PARAM);
    // The client gets its own URI back.
    msg.setRequestUri(withoutUriParam(ruri, WORKER_PARAM));
    return this.workerNumber(value);
  }

  sendFrom(owner: number, out: ListeningPoint, data: Buffer, host: string, port: number): void {
    this.handedOver++;
    this.post(owner, { kind: 'send', side: out.side, transport: out.transport, host, port, data: data.toString('latin1') });
  }

  /** A message or send another worker handed to this one. */
  take(m: SipRelayMessage): void {
    const point = this.points.find((p) => p.side === m.side && p.transport === m.transport);
    if (!point || !this.deliver) {
      this.lost++;
      return;
    }
    this.takenOver++;
    const data = Buffer.from(m.data, 'latin1');
    if (m.kind === 'send') {
      point.sendTo(data, m.host, m.port, this.sendFailed);
      return;
    }
    const parsed = parseDatagram(data);
    if (parsed.kind !== 'message') {
      this.lost++;
      return;
    }
    const { side, transport, remoteAddress, remotePort, from } = m;
    const flow: Flow = {
      transport,
      local: point,
      remoteAddress,
      remotePort,
      outbound: m.outbound,
      // A reply on this flow goes back on the connection, in the worker that holds it.
      send: (reply) => this.post(from, { kind: 'send', side, transport, host: remoteAddress, port: remotePort, data: reply.toString('latin1') }),
    };
    this.relayed.set(flow, from);
    this.deliver(parsed.message, flow);
  }

  /** Another worker's index (0..workers-1) from a parameter value; undefined for this worker's or none. */
  private workerNumber(v: string | undefined): number | undefined {
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    return Number.isInteger(n) && n >= 0 && n < this.workers && n !== this.index ? n : undefined;
  }

  private readonly sendFailed = (err: Error): void => {
    this.log.debug(`Sending a SIP message handed over by another worker failed: ${err.message}`);
  };
}

/** A Contact value with `;lbw=<owner>` on its SIP URI (a value the client wrote is replaced). */
export function markContact(value: string, owner: number): string {
  if (value.trim() === '*') return value;
  const uriText = uriOfNameAddr(value);
  const uri = parseUri(uriText);
  if (!uri || (uri.scheme !== 'sip' && uri.scheme !== 'sips')) return value;
  const have = paramOf(uri.params, WORKER_PARAM);
  if (have === String(owner)) return value;
  let v = value;
  if (have !== undefined) {
    const at = value.indexOf(uriText);
    v = value.slice(0, at) + withoutUriParam(uriText, WORKER_PARAM) + value.slice(at + uriText.length);
  }
  return withUriParams(v, `;${WORKER_PARAM}=${owner}`);
}
