// The stateless proxy's pure rewriting rules: the balancer's branches, Via and Record-Route values and
// the node hint they carry, Route popping, received/rport stamping, where a response goes, and the
// client-written headers that must not pass. Functions of a message and addresses; no I/O, no state.

import type { Config, SipTransport } from '../config/types.js';
import { fnv1a } from '../algorithms/hash.js';
import type { ServerNode } from '../registry/server-node.js';
import { withReceived, type SipMessage, type ViaValue } from './message.js';
import { bareHost, defaultPort, paramOf, parseUri, uriHost, uriOfNameAddr, uriTransport, type SipUri } from './uri.js';
import type { Side } from './transport/transport.js';
import { familyOf } from './transport/dual-stack.js';
import type { Advertised, LocalAddresses } from './local-addresses.js';

export const INITIAL_REMOTE_ADDR = 'X-Sip-Balancer-InitialRemoteAddr';
export const INITIAL_REMOTE_PORT = 'X-Sip-Balancer-InitialRemotePort';
/** Lowercase prefix of the balancer's own headers: never taken from a client (issue 10, finding 5). */
const OWN_HEADER_PREFIX = 'x-sip-balancer-';
const MAGIC_COOKIE = 'z9hG4bK';

/**
 * The branch base for the balancer's Vias: derived from the incoming top branch (so retransmissions,
 * CANCEL and non-2xx ACK, which share it, get the same one) and the Call-ID's first characters. A
 * client without an RFC 3261 branch gets a hash of what its INVITE, CANCEL and ACK have in common.
 */
export function branchBase(msg: SipMessage, via: ViaValue): string {
  const incoming = via.branch;
  let base = '';
  if (incoming && incoming.startsWith(MAGIC_COOKIE)) base = tokenChars(incoming.slice(MAGIC_COOKIE.length));
  if (base === '') {
    const key = `${incoming ?? ''}|${via.host}:${via.port ?? ''}|${msg.callId}|${msg.cseq.num}|${msg.fromTag ?? ''}`;
    base = fnv1a(key).toString(16);
  }
  const callId = msg.callId;
  let prefix = '';
  for (let i = 0; i < callId.length && prefix.length < 5; i++) {
    const c = callId.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) prefix += callId[i];
  }
  return base + prefix;
}

/** The branch of the balancer's Via on one leg: `z9hG4bK<base>_<version>` outside, `…zsd_<version>` inside. */
export function legBranch(base: string, leg: Side, version: string): string {
  return `${MAGIC_COOKIE}${base}${leg === 'internal' ? 'zsd' : ''}_${tokenChars(version) || '0'}`;
}

/** The version a response belongs to: the text after the last `_` of the balancer's branch. */
export function versionOfBranch(branch: string | undefined): string | undefined {
  if (!branch) return undefined;
  const us = branch.lastIndexOf('_');
  return us < 0 ? undefined : branch.slice(us + 1);
}

export function viaLine(transport: SipTransport, addr: Advertised, branch: string): string {
  return `SIP/2.0/${transport.toUpperCase()} ${uriHost(addr.host)}:${addr.port};branch=${branch};rport`;
}

export interface NodeLeg {
  readonly node: ServerNode | undefined;
  readonly nodeHost: string;
  readonly nodePort: number;
  readonly version: string;
}

export function recordRouteValue(transport: SipTransport, addr: Advertised, leg: NodeLeg): string {
  return `<sip:${uriHost(addr.host)}:${addr.port};transport=${transport};lr;node_host=${leg.nodeHost};node_port=${leg.nodePort};version=${leg.version}>`;
}

/** The node hint of a balancer Route: node_host, node_port, version and transport. */
export interface NodeHint {
  readonly host: string;
  readonly port: number;
  readonly version: string | undefined;
  readonly transport: SipTransport;
}

/**
 * Pops the balancer's own Routes from the top of the Route set (its pair of Record-Route entries come
 * back as two adjacent Routes) and returns the node hint they carry, if any.
 */
export function popBalancerRoutes(msg: SipMessage, local: LocalAddresses): NodeHint | undefined {
  let hint: NodeHint | undefined;
  for (;;) {
    const top = msg.firstListValue('route');
    if (top === undefined) return hint;
    const uri = parseUri(uriOfNameAddr(top));
    if (!uri) return hint;
    if (!local.isLocal(uri.host, uri.port ?? uriDefaultPort(uri))) {
      if (!local.matchesRouteHostname(uri.host)) return hint;
      msg.dropFirstListValue('route');
      continue;
    }
    msg.dropFirstListValue('route');
    if (!hint) hint = hintOf(uri);
  }
}

/** The port a URI without one means: its transport's default (5061 for TLS and sips:, RFC 3261 19.1.2). */
export function uriDefaultPort(uri: SipUri): number {
  return defaultPort(uriTransport(uri) ?? 'udp');
}

/** The port a Via sent-by without one means: its transport's default (RFC 3261 18.2.2). */
export function viaDefaultPort(via: ViaValue): number {
  return defaultPort(asTransport(via.transport) ?? 'udp');
}

function hintOf(uri: SipUri): NodeHint | undefined {
  const host = paramOf(uri.params, 'node_host');
  const port = Number(paramOf(uri.params, 'node_port'));
  if (!host || !Number.isInteger(port) || port <= 0) return undefined;
  return { host: bareHost(host), port, version: paramOf(uri.params, 'version') || undefined, transport: asTransport(uriTransport(uri)) ?? 'udp' };
}

const TRANSPORTS: ReadonlySet<string> = new Set(['udp', 'tcp', 'tls', 'ws', 'wss']);

/** A transport name in any case ("UDP", "tcp") as a SipTransport, undefined for others (SCTP, …). */
export function asTransport(t: string | undefined): SipTransport | undefined {
  if (t === undefined) return undefined;
  const l = t.toLowerCase();
  return TRANSPORTS.has(l) ? (l as SipTransport) : undefined;
}

/**
 * Stamps `received` and `rport` on the top Via (RFC 3261 18.2.1, RFC 3581). On streams rport is always
 * set so that the response finds the connection the request came in on.
 */
export function stampReceived(msg: SipMessage, via: ViaValue, flow: { transport: SipTransport; remoteAddress: string; remotePort: number }): ViaValue {
  const stream = flow.transport !== 'udp';
  const wantsRport = via.rport !== undefined || stream;
  // A received= the peer wrote itself is replaced too: it would choose where responses go.
  const hostDiffers = bareHost(via.host) !== flow.remoteAddress || (via.received !== undefined && via.received !== flow.remoteAddress);
  if (!wantsRport && !hostDiffers) return via;
  if (via.received === flow.remoteAddress && (!wantsRport || via.rport === String(flow.remotePort))) return via;
  const stamped = withReceived(via, flow.remoteAddress, wantsRport ? flow.remotePort : undefined);
  msg.setTopVia(stamped);
  return stamped;
}

/**
 * Where a response goes: the Via's received/rport, else its sent-by (RFC 3261 18.2.2, RFC 3581 4). The port
 * is 0 when the Via's is not one (port 0, rport=99999): the caller drops such a message (isPort).
 */
export function responseTarget(via: ViaValue): { host: string; port: number; transport: SipTransport } {
  const transport = asTransport(via.transport) ?? 'udp';
  const rport = via.rport ? Number(via.rport) : NaN;
  const port = Number.isInteger(rport) && rport > 0 ? rport : via.port ?? defaultPort(transport);
  return { host: bareHost(via.received || via.host), port: isPort(port) ? port : 0, transport };
}

/** A port a message may be sent to: 1 to 65535. */
export function isPort(port: number): boolean {
  return port > 0 && port <= 65535 && Number.isInteger(port);
}

/**
 * Removes every header whose name starts with X-Sip-Balancer- (all copies): only the balancer writes them,
 * so a client's own values must never reach a node. One pass over the header list, no string built.
 */
export function removeOwnHeaders(msg: SipMessage): void {
  const headers = msg.headers;
  for (let i = 0; i < headers.length; i++) {
    if (headers[i]!.key.startsWith(OWN_HEADER_PREFIX)) {
      msg.removeHeader(headers[i]!.key);
      i = -1;
    }
  }
}

/** Rewrites a URI's host and port, keeping scheme, user, parameters and headers. */
export function rewriteUriHostPort(uri: SipUri, host: string, port: number): string {
  return `${uri.scheme}:${uri.user ? `${uri.user}@` : ''}${uriHost(host)}:${port}${uri.params}${uri.headers}`;
}

function tokenChars(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46 || c === 33 || c === 126 || c === 42 || c === 43) out += s[i];
  }
  return out;
}

/**
 * publicIp (1:1 NAT): a Contact of a node's response that names the balancer's own private external address
 * is rewritten to the public one (publicIpv6 toward an IPv6 client), keeping user part and parameters.
 */
export function publicContact(msg: SipMessage, local: LocalAddresses, config: Config, clientHost: string): void {
  const publicHost = familyOf(clientHost) === 6 ? config.sip.publicIpv6 ?? config.sip.publicIp : config.sip.publicIp;
  if (publicHost === undefined) return;
  const contacts = msg.headerValues('contact');
  if (contacts.length !== 1) return;
  const value = contacts[0]!;
  const uriText = uriOfNameAddr(value);
  const uri = parseUri(uriText);
  if (!uri || uri.host === '' || bareHost(uri.host) === publicHost) return;
  const host = bareHost(uri.host);
  const privateHosts = [config.externalHost, config.host, config.ipv6Host];
  if (!privateHosts.includes(host) || !local.isLocal(host, uri.port)) return;
  msg.replaceFirstListValue('contact', value.replace(uriText, rewriteUriHostPort(uri, publicHost, uri.port ?? uriDefaultPort(uri))));
}
