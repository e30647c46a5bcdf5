// Mixed transports across the balancer's two legs: which transport the internal leg uses for a client
// (terminateTLSTraffic, internalTransport), how the client's Contact tells the node the client's own
// transport, and how a node's request finds a WS/WSS/TLS client again through its connection (a flow alias).

import type { SipConfig, SipTransport } from '../../config/types.js';
import type { SipMessage } from '../message.js';
import { bareHost, paramOf, parseUri, uriOfNameAddr, uriTransport, type SipUri } from '../uri.js';

/**
 * URI parameter the balancer adds to the Contact of a client that can only be reached on the connection
 * it opened (WebSocket clients with `.invalid` hosts, TLS clients behind NAT): `lbflow=<addr>~<port>~<transport>`.
 * A request from a node whose Request-URI carries it goes back on that connection (Kamailio's alias idea).
 */
export const FLOW_PARAM = 'lbflow';

/** Client transports whose connection is the only way back to the client. */
const CONNECTION_BOUND: ReadonlySet<SipTransport> = new Set(['tls', 'ws', 'wss']);

/**
 * The transport wanted on the internal leg for a client's transport: `internalTransport` when set;
 * otherwise, with `terminateTLSTraffic`, TLS becomes TCP and WSS becomes WS; otherwise the client's own.
 * (The forwarder falls back to UDP, then TCP, when the node has no port for it.)
 */
export function internalLegTransport(client: SipTransport, sip: Pick<SipConfig, 'terminateTLSTraffic' | 'internalTransport'>): SipTransport {
  if (sip.internalTransport !== undefined) return sip.internalTransport;
  if (sip.terminateTLSTraffic) {
    if (client === 'tls') return 'tcp';
    if (client === 'wss') return 'ws';
  }
  return client;
}

/** Index of `<` outside a quoted display name, or -1. */
function angleOpen(value: string): number {
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === 92) i++;
      else if (c === 34) quoted = false;
    } else if (c === 34) quoted = true;
    else if (c === 60) return i;
  }
  return -1;
}

/** Appends URI parameters (`;a=1;b`) to the URI of a name-addr or addr-spec value, keeping header parameters. */
export function withUriParams(value: string, params: string): string {
  const lt = angleOpen(value);
  if (lt >= 0) {
    const gt = value.indexOf('>', lt);
    if (gt < 0) return value;
    const q = value.indexOf('?', lt);
    const at = q >= 0 && q < gt ? q : gt;
    return value.slice(0, at) + params + value.slice(at);
  }
  // addr-spec: parameters after ';' are header parameters, so the URI gets angle brackets.
  const semi = value.indexOf(';');
  const uri = (semi < 0 ? value : value.slice(0, semi)).trim();
  return `<${uri}${params}>${semi < 0 ? '' : value.slice(semi)}`;
}

export interface ClientFlow {
  readonly transport: SipTransport;
  readonly remoteAddress: string;
  readonly remotePort: number;
}

/**
 * Marks the Contacts of a message from a client: `;transport=<client transport>` when the internal leg uses
 * another transport and the URI names none, and the flow alias when the client can only be reached on its
 * connection (WS, WSS; TLS whose Contact does not name the connection). A flow alias the client wrote itself
 * is removed first: it could name someone else's connection. Returns true when the message was edited.
 */
export function markClientContact(msg: SipMessage, flow: ClientFlow, internalTransport: SipTransport): boolean {
  // Hot path (plain UDP/TCP, same transport on both legs): nothing to add, so only a client-written alias
  // could need removing; look for its name before parsing any Contact.
  if (flow.transport === internalTransport && !CONNECTION_BOUND.has(flow.transport) && !mentionsFlowParam(msg)) return false;
  return rewriteContacts(msg, (value) => markContactValue(value, flow, internalTransport));
}

/** Rewrites every Contact value with `rewrite`; the message is edited only when a value changes (returns true). */
export function rewriteContacts(msg: SipMessage, rewrite: (value: string) => string): boolean {
  const values = msg.headerValues('contact');
  if (values.length === 0) return false;
  let edited = false;
  const marked = values.map((value) => {
    const v = rewrite(value);
    if (v !== value) edited = true;
    return v;
  });
  if (!edited) return false;
  if (values.length === 1) msg.replaceFirstListValue('contact', marked[0]!);
  else {
    // Several Contacts (a REGISTER): one field with all of them.
    msg.removeHeader('contact');
    msg.addHeader('Contact', marked.join(', '));
  }
  return true;
}

/** True when some Contact field holds the text `lbflow` in any case. */
function mentionsFlowParam(msg: SipMessage): boolean {
  for (const h of msg.headers) {
    if (h.key !== 'contact') continue;
    const v = h.value;
    for (let i = v.indexOf(';'); i >= 0 && i + FLOW_PARAM.length < v.length; i = v.indexOf(';', i + 1)) {
      let j = i + 1;
      while (v.charCodeAt(j) === 32 || v.charCodeAt(j) === 9) j++;
      if (v.substr(j, FLOW_PARAM.length).toLowerCase() === FLOW_PARAM) return true;
    }
  }
  return false;
}

/** One Contact value, marked (see markClientContact); the same string when nothing changes. */
export function markContactValue(value: string, flow: ClientFlow, internalTransport: SipTransport): string {
  if (value.trim() === '*') return value;
  const uriText = uriOfNameAddr(value);
  const uri = parseUri(uriText);
  if (!uri || (uri.scheme !== 'sip' && uri.scheme !== 'sips')) return value;
  let v = value;
  if (paramOf(uri.params, FLOW_PARAM) !== undefined) {
    const at = value.indexOf(uriText);
    v = value.slice(0, at) + withoutFlow(uriText) + value.slice(at + uriText.length);
  }
  let params = '';
  if (flow.transport !== internalTransport && uriTransport(uri) === undefined) params += `;transport=${flow.transport}`;
  const sameAddress = bareHost(uri.host) === flow.remoteAddress && uri.port === flow.remotePort;
  if (CONNECTION_BOUND.has(flow.transport) && !sameAddress) params += `;${FLOW_PARAM}=${flow.remoteAddress}~${flow.remotePort}~${flow.transport}`;
  return params === '' ? v : withUriParams(v, params);
}

/** The flow alias of a URI: the address, port and transport of the client's connection. */
export function flowOf(uri: SipUri): { host: string; port: number; transport: SipTransport } | undefined {
  const v = paramOf(uri.params, FLOW_PARAM);
  if (!v) return undefined;
  const a = v.split('~');
  if (a.length !== 3) return undefined;
  const port = Number(a[1]);
  const t = a[2]!.toLowerCase();
  if (!Number.isInteger(port) || port <= 0 || port > 65535 || a[0] === '') return undefined;
  if (t !== 'tls' && t !== 'ws' && t !== 'wss' && t !== 'tcp' && t !== 'udp') return undefined;
  return { host: a[0]!, port, transport: t };
}

/** Removes the flow alias from a URI string (the client gets its own Contact back). */
export function withoutFlow(uri: string): string {
  return withoutUriParam(uri, FLOW_PARAM);
}

/** Removes the URI parameter `name=…` (as the balancer writes it: lowercase, with a value) from a URI string. */
export function withoutUriParam(uri: string, name: string): string {
  const i = uri.indexOf(`;${name}=`);
  if (i < 0) return uri;
  let end = uri.indexOf(';', i + 1);
  const q = uri.indexOf('?', i + 1);
  if (end < 0 || (q >= 0 && q < end)) end = q;
  return end < 0 ? uri.slice(0, i) : uri.slice(0, i) + uri.slice(end);
}

/**
 * Where a request from a node goes: its top Route, else its Request-URI; a Request-URI with a flow alias
 * (and no Route left) is routed to the client's connection, and the alias is taken off the Request-URI.
 * The URI returned is for routing only (host, port, transport).
 */
export function nodeRequestTarget(msg: SipMessage, topRoute: string | undefined): SipUri | undefined {
  if (topRoute !== undefined) return parseUri(uriOfNameAddr(topRoute));
  const ruri = parseUri(msg.requestUri);
  if (!ruri) return undefined;
  const flow = flowOf(ruri);
  if (!flow) return ruri;
  msg.setRequestUri(withoutFlow(msg.requestUri));
  return { scheme: 'sip', user: ruri.user, host: flow.host, port: flow.port, params: `;transport=${flow.transport}`, headers: '' };
}
