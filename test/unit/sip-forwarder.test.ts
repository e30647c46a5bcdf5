// The forwarder's rewriting without sockets: fake listening points record what would be sent, so each
// rule (Via, Route, Record-Route, branches, Max-Forwards, replies, failover) is checked on the bytes.

import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { NodeRegistry } from '../../src/registry/node-registry.js';
import { CallIdAffinityAlgorithm } from '../../src/algorithms/call-id-affinity.js';
import { RoundRobinAlgorithm } from '../../src/algorithms/round-robin.js';
import { SipStats } from '../../src/sip/sip-stats.js';
import { createNodeHealthMonitor } from '../../src/algorithms/health.js';
import { LocalAddresses, RecentInvites, SipForwarder, branchBase, legBranch, popBalancerRoutes, responseTarget, stampReceived, versionOfBranch } from '../../src/sip/forwarder.js';
import { parseMessage, parseVia, type SipMessage } from '../../src/sip/message.js';
import { parseUri, uriOfNameAddr, paramOf } from '../../src/sip/uri.js';
import type { SipTransport } from '../../src/config/types.js';
import type { Flow, ListeningPoint, Side } from '../../src/sip/transport/transport.js';

interface Sent {
  msg: SipMessage;
  host: string;
  port: number;
}

class FakePoint implements ListeningPoint {
  readonly sent: Sent[] = [];
  failNext = 0;
  constructor(
    readonly side: Side,
    readonly transport: SipTransport,
    readonly port: number,
    readonly host = '127.0.0.1',
  ) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  sendTo(data: Buffer, host: string, port: number, onError?: (err: Error) => void): void {
    if (this.failNext > 0) {
      this.failNext--;
      onError?.(new Error('connection refused'));
      return;
    }
    this.sent.push({ msg: parseMessage(data), host, port });
  }
}

const LB = '127.0.0.1';
const algos: { stop(): void }[] = [];
afterEach(() => {
  for (const a of algos.splice(0)) a.stop();
});

function setup(props: Record<string, string | number> = {}, opts: { roundRobin?: boolean } = {}) {
  const text = Object.entries({ host: LB, externalPort: 5060, internalPort: 5065, ...props }).map(([k, v]) => `${k}=${v}`).join('\n');
  const { config } = loadConfigText(text);
  const log = silentLogger();
  const registry = new NodeRegistry({ nodeTimeoutMs: 8400, heartbeatIntervalMs: 150, extraServerNodes: config.sip.extraServerNodes }, log);
  const algorithm = opts.roundRobin ? new RoundRobinAlgorithm() : new CallIdAffinityAlgorithm();
  algorithm.init({ config, properties: config.properties, registry, log });
  algos.push(algorithm);
  registry.on('changed', () => algorithm.nodesChanged(registry.live()));
  const stats = new SipStats();
  const ext = new FakePoint('external', 'udp', 5060);
  const extTcp = new FakePoint('external', 'tcp', 5060);
  const int = new FakePoint('internal', 'udp', 5065);
  const intTcp = new FakePoint('internal', 'tcp', 5065);
  const points = config.sip.singleEntryMode ? [ext, extTcp] : [ext, extTcp, int, intTcp];
  const health = createNodeHealthMonitor({ config, registry, log });
  const fwd = new SipForwarder({ config, registry, algorithm, stats, log, health }, points);
  const addNode = (port: number, version = '0') =>
    registry.register({ ip: '127.0.0.1', hostname: `n${port}`, ports: { udp: port, tcp: port }, version, sessionId: `s${port}` });
  const fromClient = (text: string, port = 5061, point: FakePoint = ext): void => {
    const flow: Flow = { transport: point.transport, local: point, remoteAddress: '127.0.0.1', remotePort: port, send: (d) => point.sent.push({ msg: parseMessage(d), host: 'flow', port }) };
    fwd.onMessage(parseMessage(text), flow);
  };
  const fromNode = (text: string, port: number, point: FakePoint = int): void => {
    const flow: Flow = { transport: point.transport, local: point, remoteAddress: '127.0.0.1', remotePort: port, send: (d) => point.sent.push({ msg: parseMessage(d), host: 'flow', port }) };
    fwd.onMessage(parseMessage(text), flow);
  };
  return { config, registry, algorithm, stats, ext, extTcp, int, intTcp, fwd, addNode, fromClient, fromNode };
}

function request(method: string, opts: { ruri?: string; via?: string; callId?: string; toTag?: string; cseq?: number; route?: string[]; mf?: number | null; body?: string; extra?: string[] } = {}): string {
  const body = opts.body ?? '';
  return [
    `${method} ${opts.ruri ?? `sip:service@${LB}:5060`} SIP/2.0`,
    `Via: ${opts.via ?? 'SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-client-1'}`,
    ...(opts.route ?? []).map((r) => `Route: ${r}`),
    ...(opts.mf === null ? [] : [`Max-Forwards: ${opts.mf ?? 70}`]),
    `From: <sip:alice@example.com>;tag=from1`,
    `To: <sip:bob@example.com>${opts.toTag ? `;tag=${opts.toTag}` : ''}`,
    `Call-ID: ${opts.callId ?? 'call-1@client'}`,
    `CSeq: ${opts.cseq ?? 1} ${method === 'ACK' || method === 'CANCEL' ? method : method}`,
    'Contact: <sip:alice@127.0.0.1:5061>',
    ...(opts.extra ?? []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

function response(status: number, vias: string[], opts: { method?: string; rr?: string[] } = {}): string {
  return [
    `SIP/2.0 ${status} ${status === 200 ? 'OK' : 'Ringing'}`,
    ...vias.map((v) => `Via: ${v}`),
    ...(opts.rr ?? []).map((r) => `Record-Route: ${r}`),
    'From: <sip:alice@example.com>;tag=from1',
    'To: <sip:bob@example.com>;tag=to1',
    'Call-ID: call-1@client',
    `CSeq: 1 ${opts.method ?? 'INVITE'}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

describe('pure rewriting helpers', () => {
  it('derives the same branch for an INVITE, its retransmission, its CANCEL and its non-2xx ACK', () => {
    const invite = parseMessage(request('INVITE'));
    const cancel = parseMessage(request('CANCEL'));
    const ack = parseMessage(request('ACK'));
    const b = branchBase(invite, invite.topVia!);
    expect(branchBase(cancel, cancel.topVia!)).toBe(b);
    expect(branchBase(ack, ack.topVia!)).toBe(b);
    expect(legBranch(b, 'external', '0')).toBe(`z9hG4bK${b}_0`);
    expect(legBranch(b, 'internal', '2')).toBe(`z9hG4bK${b}zsd_2`);
    expect(versionOfBranch(legBranch(b, 'internal', '2'))).toBe('2');
    const other = parseMessage(request('INVITE', { via: 'SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-client-2' }));
    expect(branchBase(other, other.topVia!)).not.toBe(b);
  });

  it('derives a stable branch for an RFC 2543 client without a magic cookie', () => {
    const a = parseMessage(request('INVITE', { via: 'SIP/2.0/UDP 10.1.1.1' }));
    const c = parseMessage(request('CANCEL', { via: 'SIP/2.0/UDP 10.1.1.1' }));
    expect(branchBase(a, a.topVia!)).toBe(branchBase(c, c.topVia!));
    expect(branchBase(a, a.topVia!)).toMatch(/^[0-9a-z]+$/i);
  });

  it('stamps received and rport (always rport on streams)', () => {
    const m = parseMessage(request('INVITE', { via: 'SIP/2.0/UDP client.example.com:5061;branch=z9hG4bK1;rport' }));
    const v = stampReceived(m, m.topVia!, { transport: 'udp', remoteAddress: '192.0.2.7', remotePort: 40000 });
    expect(v).toMatchObject({ received: '192.0.2.7', rport: '40000' });
    expect(parseMessage(m.toBuffer()).header('via')).toBe('SIP/2.0/UDP client.example.com:5061;branch=z9hG4bK1;rport=40000;received=192.0.2.7');
    const unchanged = parseMessage(request('INVITE'));
    expect(stampReceived(unchanged, unchanged.topVia!, { transport: 'udp', remoteAddress: '127.0.0.1', remotePort: 5061 })).toBe(unchanged.topVia);
    const tcp = parseMessage(request('INVITE', { via: 'SIP/2.0/TCP 127.0.0.1:5061;branch=z9hG4bK1' }));
    expect(stampReceived(tcp, tcp.topVia!, { transport: 'tcp', remoteAddress: '127.0.0.1', remotePort: 33333 }).rport).toBe('33333');
  });

  it('sends responses to received/rport, else the sent-by', () => {
    expect(responseTarget(parseVia('SIP/2.0/UDP a.example.com:5070;branch=x;received=10.0.0.1;rport=1234')!)).toEqual({ host: '10.0.0.1', port: 1234, transport: 'udp' });
    expect(responseTarget(parseVia('SIP/2.0/TCP 10.0.0.2;branch=x')!)).toEqual({ host: '10.0.0.2', port: 5060, transport: 'tcp' });
    expect(responseTarget(parseVia('SIP/2.0/TLS 10.0.0.2;branch=x;rport')!)).toEqual({ host: '10.0.0.2', port: 5061, transport: 'tls' });
  });

  it('pops the balancer\'s adjacent Routes and reads their node hint', () => {
    const { fwd } = setup();
    const m = parseMessage(request('BYE', {
      toTag: 't',
      route: ['<sip:127.0.0.1:5060;transport=udp;lr;node_host=127.0.0.1;node_port=5070;version=3>, <sip:127.0.0.1:5065;transport=udp;lr;node_host=127.0.0.1;node_port=5070;version=3>', '<sip:proxy.example.com;lr>'],
    }));
    expect(popBalancerRoutes(m, fwd.local)).toEqual({ host: '127.0.0.1', port: 5070, version: '3', transport: 'udp' });
    expect(m.headerValues('route')).toEqual(['<sip:proxy.example.com;lr>']);
  });
});

describe('client to node', () => {
  it('sends 100 Trying, rewrites the Request-URI, adds two Vias and two Record-Routes, decrements Max-Forwards', () => {
    const s = setup();
    s.addNode(5070);
    s.fromClient(request('INVITE', { body: 'v=0\r\n' }));
    expect(s.ext.sent.map((x) => x.msg.status)).toEqual([100]);
    expect(s.int.sent).toHaveLength(1);
    const { msg, host, port } = s.int.sent[0]!;
    expect([host, port]).toEqual(['127.0.0.1', 5070]);
    expect(msg.requestUri).toBe('sip:service@127.0.0.1:5070');
    expect(msg.maxForwards).toBe(69);
    const vias = msg.headerValues('via').map((v) => parseVia(v)!);
    expect(vias.map((v) => `${v.host}:${v.port}`)).toEqual(['127.0.0.1:5065', '127.0.0.1:5060', '127.0.0.1:5061']);
    expect(vias[0]!.branch).toMatch(/zsd_0$/);
    expect(vias[1]!.branch).toMatch(/[^d]_0$/);
    const rr = msg.headerValues('record-route').map((r) => parseUri(uriOfNameAddr(r))!);
    expect(rr.map((u) => u.port)).toEqual([5065, 5060]);
    for (const u of rr) {
      expect(paramOf(u.params, 'node_host')).toBe('127.0.0.1');
      expect(paramOf(u.params, 'node_port')).toBe('5070');
      expect(paramOf(u.params, 'version')).toBe('0');
      expect(paramOf(u.params, 'lr')).toBe('');
      expect(paramOf(u.params, 'transport')).toBe('udp');
    }
    expect(msg.header('X-Sip-Balancer-InitialRemoteAddr')).toBe('127.0.0.1');
    expect(msg.header('X-Sip-Balancer-InitialRemotePort')).toBe('5061');
    expect(msg.body.toString()).toBe('v=0\r\n');
    expect(s.stats.requestsByMethod.get('INVITE')).toBe(1);
  });

  it('sets Max-Forwards to 70 when missing, and answers 483 at 0 without forwarding', () => {
    const s = setup();
    s.addNode(5070);
    s.fromClient(request('OPTIONS', { mf: null }));
    expect(s.int.sent[0]!.msg.maxForwards).toBe(70);
    s.fromClient(request('INVITE', { mf: 0 }));
    expect(s.int.sent).toHaveLength(1);
    expect(s.ext.sent.map((x) => x.msg.status)).toEqual([483]);
    expect(s.ext.sent[0]!.msg.toTag).toBeDefined();
  });

  it('answers 503 with Retry-After when no node is alive, and stays silent for ACK', () => {
    const s = setup({ noNodeRetryAfter: 7 });
    s.fromClient(request('INVITE'));
    s.fromClient(request('ACK'));
    expect(s.ext.sent.map((x) => x.msg.status)).toEqual([503]);
    expect(s.ext.sent[0]!.msg.header('retry-after')).toBe('7');
    expect(s.stats.noNode).toBe(2);
  });

  it('routes an in-dialog request by its Record-Route hint, popping both balancer Routes', () => {
    const s = setup();
    s.addNode(5070);
    s.addNode(5080);
    const hint = (port: number) => `<sip:127.0.0.1:${port};transport=udp;lr;node_host=127.0.0.1;node_port=5080;version=0>`;
    s.fromClient(request('BYE', { ruri: 'sip:bob@127.0.0.1:5080', toTag: 'to1', cseq: 2, route: [hint(5060), hint(5065)] }));
    const { msg, port } = s.int.sent[0]!;
    expect(port).toBe(5080);
    expect(msg.hasHeader('route')).toBe(false);
    expect(msg.hasHeader('record-route')).toBe(false);
    expect(msg.requestUri).toBe('sip:bob@127.0.0.1:5080');
  });

  it('fails a dialog over to a live node when its node is dead, pushing a Route to it', () => {
    const s = setup();
    s.addNode(5080);
    const hint = (port: number) => `<sip:127.0.0.1:${port};transport=udp;lr;node_host=127.0.0.1;node_port=5070;version=0>`;
    s.fromClient(request('BYE', { ruri: 'sip:bob@127.0.0.1:5070', toTag: 'to1', cseq: 2, route: [hint(5060), hint(5065)] }));
    const { msg, port } = s.int.sent[0]!;
    expect(port).toBe(5080);
    expect(msg.requestUri).toBe('sip:bob@127.0.0.1:5070');
    expect(msg.headerValues('route')).toEqual(['<sip:127.0.0.1:5080;transport=udp;lr>']);
  });

  it('sends a request that explicitly addresses a live node to that node', () => {
    const s = setup();
    s.addNode(5070);
    s.addNode(5080);
    for (let i = 0; i < 3; i++) s.fromClient(request('MESSAGE', { ruri: 'sip:bob@127.0.0.1:5080', callId: `m${i}` }));
    expect(s.int.sent.map((x) => x.port)).toEqual([5080, 5080, 5080]);
  });

  it('gives the retransmission and the CANCEL of an INVITE the same branches and node', () => {
    const s = setup();
    s.addNode(5070);
    s.addNode(5080);
    s.fromClient(request('INVITE'));
    s.fromClient(request('INVITE'));
    s.fromClient(request('CANCEL'));
    const tops = s.int.sent.map((x) => x.msg.topVia!.branch);
    expect(new Set(tops).size).toBe(1);
    expect(new Set(s.int.sent.map((x) => x.port)).size).toBe(1);
  });

  it('sends a retransmitted INVITE, its CANCEL and its non-2xx ACK to the INVITE\'s node even with round-robin', () => {
    const s = setup({}, { roundRobin: true });
    s.addNode(5070);
    s.addNode(5080);
    s.fromClient(request('INVITE'));
    s.fromClient(request('INVITE'));
    s.fromClient(request('CANCEL'));
    s.fromClient(request('ACK', { toTag: 'to1' }));
    expect(new Set(s.int.sent.map((x) => x.port)).size).toBe(1);
    s.fromClient(request('INVITE', { callId: 'another' }));
    expect(new Set(s.int.sent.map((x) => x.port)).size).toBe(2);
  });

  it('remembers INVITEs for one to two generations only', () => {
    let now = 0;
    const recent = new RecentInvites(1000, () => now);
    const s = setup();
    const node = s.addNode(5070);
    recent.set('a', node);
    now = 1500;
    recent.set('b', node);
    expect(recent.get('a', s.registry)).toBe(node);
    now = 2600;
    recent.set('c', node);
    expect(recent.get('a', s.registry)).toBeUndefined();
    expect(recent.get('b', s.registry)).toBe(node);
    s.registry.remove(node, 'test');
    expect(recent.get('c', s.registry)).toBeUndefined();
  });

  it('holds at most two full generations of INVITEs, counting what it forgets early (issue 16, bounded state)', () => {
    const now = 0;
    const recent = new RecentInvites(32_000, () => now, 3);
    const s = setup();
    const node = s.addNode(5070);
    for (let i = 0; i < 100; i++) recent.set(`call-${i}`, node);
    // Time never moved: without the cap all 100 would be kept for 32 s.
    expect(recent.size).toBeLessThanOrEqual(6);
    expect(recent.evicted).toBe(100 - recent.size);
    expect(recent.get('call-99', s.registry)).toBe(node);
    expect(recent.get('call-0', s.registry)).toBeUndefined();
    // The same Call-ID again (a retransmission) is no new entry: it never forces a swap.
    const before = recent.evicted;
    for (let i = 0; i < 10; i++) recent.set('call-99', node);
    expect(recent.evicted).toBe(before);
  });

  it('tries the next node once when the send to the first fails', () => {
    const s = setup();
    s.addNode(5070);
    s.addNode(5080);
    s.int.failNext = 1;
    s.fromClient(request('INVITE'));
    expect(s.int.sent).toHaveLength(1);
    expect(s.stats.sendFailures).toBe(1);
    expect(s.ext.sent.map((x) => x.msg.status)).toEqual([100]);
    const viaCount = s.int.sent[0]!.msg.headerValues('via').length;
    expect(viaCount).toBe(3);
  });

  it('uses the IP load balancer addresses in Record-Route, and in Via when asked', () => {
    const s = setup({ externalIpLoadBalancerAddress: '192.0.2.100', externalIpLoadBalancerPort: 5090, useIpLoadBalancerAddressInViaHeaders: 'true' });
    s.addNode(5070);
    s.fromClient(request('INVITE'));
    const msg = s.int.sent[0]!.msg;
    expect(msg.headerValues('record-route')[1]).toContain('sip:192.0.2.100:5090;');
    expect(msg.headerValues('via')[1]).toContain('192.0.2.100:5090');
  });

  it('drops the request when the chosen node is the balancer itself (loop)', () => {
    const s = setup();
    s.registry.register({ ip: '127.0.0.1', ports: { udp: 5065 }, sessionId: 'self' });
    s.fromClient(request('INVITE'));
    expect(s.int.sent).toHaveLength(0);
    expect(s.stats.looped).toBe(1);
  });
});

describe('configured filters', () => {
  it('drops initial requests from scanners named in blockedValues (User-Agent, From, To), silently', () => {
    const s = setup();
    s.addNode(5070);
    s.fromClient(request('INVITE', { extra: ['User-Agent: friendly-scanner'] }));
    s.fromClient(request('OPTIONS', { extra: ['User-Agent: SIPVicious 0.3'] }));
    expect(s.int.sent).toHaveLength(0);
    expect(s.ext.sent).toHaveLength(0);
    expect(s.stats.dropped.get('blocked')).toBe(2);
    s.fromClient(request('INVITE', { extra: ['User-Agent: Linphone'] }));
    expect(s.int.sent).toHaveLength(1);
  });

  it('pops a Route naming matchingHostnameForRoute (and its subdomains with isFilterSubdomain)', () => {
    const s = setup({ matchingHostnameForRoute: 'lb.example.com', isFilterSubdomain: 'true' });
    s.addNode(5070);
    s.fromClient(request('INVITE', { route: ['<sip:edge.lb.example.com;lr>', '<sip:lb.example.com;lr>'] }));
    const msg = s.int.sent[0]!.msg;
    expect(msg.hasHeader('route')).toBe(false);
    expect(msg.requestUri).toBe('sip:service@127.0.0.1:5070');
  });
});

describe('node to client', () => {
  it('forwards a node-initiated INVITE out the external side with external Via on top and [external, internal] Record-Route', () => {
    const s = setup();
    s.addNode(5070);
    s.fromNode(request('INVITE', {
      ruri: 'sip:ua@127.0.0.1:5090',
      via: 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-node-1',
      route: ['<sip:lbaddress_InternalPort@127.0.0.1:5065;node_host=127.0.0.1;node_port=5070;lr>'],
      extra: ['X-Sip-Balancer-InitialRemoteAddr: 10.9.9.9', 'X-Sip-Balancer-InitialRemotePort: 9'],
    }), 5070);
    expect(s.ext.sent).toHaveLength(1);
    const { msg, host, port } = s.ext.sent[0]!;
    expect([host, port]).toEqual(['127.0.0.1', 5090]);
    const vias = msg.headerValues('via').map((v) => parseVia(v)!);
    expect(vias.map((v) => v.port)).toEqual([5060, 5065, 5070]);
    const rr = msg.headerValues('record-route').map((r) => parseUri(uriOfNameAddr(r))!);
    expect(rr.map((u) => u.port)).toEqual([5060, 5065]);
    expect(paramOf(rr[0]!.params, 'node_port')).toBe('5070');
    expect(msg.hasHeader('route')).toBe(false);
    expect(msg.hasHeader('X-Sip-Balancer-InitialRemoteAddr')).toBe(false);
  });

  it('drops a node request whose next hop is the balancer itself', () => {
    const s = setup();
    s.addNode(5070);
    s.fromNode(request('MESSAGE', { ruri: 'sip:x@127.0.0.1:5060', via: 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-n' }), 5070);
    expect(s.ext.sent).toHaveLength(0);
    expect(s.stats.looped).toBe(1);
  });
});

describe('responses', () => {
  it('removes the balancer\'s two Vias and sends to the next Via (received/rport honoured)', () => {
    const s = setup();
    s.fromNode(response(180, ['SIP/2.0/UDP 127.0.0.1:5065;branch=z9hG4bKabczsd_0;rport', 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKabc_0;rport', 'SIP/2.0/UDP client.example.com:5061;branch=z9hG4bK-c;received=192.0.2.9;rport=40001']), 5070);
    expect(s.ext.sent).toHaveLength(1);
    const { msg, host, port } = s.ext.sent[0]!;
    expect([host, port]).toEqual(['192.0.2.9', 40001]);
    expect(msg.headerValues('via')).toHaveLength(1);
    expect(s.stats.responsesByStatus.get(180)).toBe(1);
  });

  it('sends a client\'s response to a node-initiated request back to the node on the internal side', () => {
    const s = setup();
    s.addNode(5070);
    s.fromClient(response(200, ['SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx_0;rport', 'SIP/2.0/UDP 127.0.0.1:5065;branch=z9hG4bKxzsd_0;rport', 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-node']), 5090);
    expect(s.int.sent.map((x) => x.port)).toEqual([5070]);
  });

  it('drops (and counts) a client\'s response whose next Via names no node, over UDP and TCP', () => {
    const s = setup();
    s.addNode(5070);
    s.fromClient(response(200, ['SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx_0;rport', 'SIP/2.0/UDP 127.0.0.1:5065;branch=z9hG4bKxzsd_0;rport', 'SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-evil']), 5090);
    s.fromClient(response(200, ['SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bKx_0;rport', 'SIP/2.0/TCP 203.0.113.7:5070;branch=z9hG4bK-evil']), 5090, s.extTcp);
    expect(s.int.sent).toHaveLength(0);
    expect(s.intTcp.sent).toHaveLength(0);
    expect(s.stats.dropped.get('response-not-to-node')).toBe(2);
  });

  it('drops a response whose top Via is not the balancer\'s', () => {
    const s = setup();
    s.fromNode(response(200, ['SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx']), 5070);
    expect(s.ext.sent).toHaveLength(0);
    expect(s.stats.dropped.get('response-not-for-us')).toBe(1);
  });
});

describe('node health from traffic', () => {
  it('marks a node bad after too many error responses (responsesStatusCodeNodeRemoval), and sends new calls elsewhere', () => {
    const s = setup({ maxNumberResponsesWithError: 2, maxErrorTime: 60000 });
    const bad = s.addNode(5070);
    s.addNode(5080);
    const ours = ['SIP/2.0/UDP 127.0.0.1:5065;branch=z9hG4bKazsd_0;rport', 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKa_0;rport', 'SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-c'];
    for (let i = 0; i < 3; i++) s.fromNode(response(503, ours), 5070);
    expect(bad.state).toBe('bad');
    for (let i = 0; i < 4; i++) s.fromClient(request('INVITE', { callId: `after-${i}` }));
    expect(s.int.sent.map((x) => x.port)).toEqual([5080, 5080, 5080, 5080]);
  });
});

const heartbeat = (body: string, header = 'Mobicents-Heartbeat: 1') =>
  request('OPTIONS', { ruri: 'sip:X@127.0.0.1:5065;lr', via: 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-hb', extra: [header, 'Content-Type: text/plain;charset=UTF-8'], body });

describe('SIP heartbeats', () => {
  it('registers the node from the body on the internal port and answers 200 OK', () => {
    const s = setup();
    s.fromNode(heartbeat('tcpPort=5070\r\nudpPort=5070\r\nhostname=sipHeartbeat\r\nip=127.0.0.1\r\nversion=2\r\nregion=eu\r\n'), 5070);
    expect(s.int.sent.map((x) => x.msg.status)).toEqual([200]);
    const node = s.registry.findByAddress('127.0.0.1', 5070)!;
    expect(node).toMatchObject({ hostname: 'sipHeartbeat', version: '2', ports: { udp: 5070, tcp: 5070 } });
    expect(node.properties).toEqual({ region: 'eu' });
    expect(s.stats.heartbeats).toBe(1);
  });

  it('answers a heartbeat with rport at the port it came from', () => {
    const s = setup();
    s.fromNode(request('OPTIONS', { via: 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-hb2;rport', extra: ['Mobicents-Heartbeat: 1'], body: 'udpPort=5070\n' }), 40123);
    expect(s.int.sent.map((x) => [x.msg.status, x.port])).toEqual([[200, 40123]]);
  });

  it('accepts Restcomm-Heartbeat and GRACEFUL_SHUTDOWN', () => {
    const s = setup();
    s.fromNode(heartbeat('udpPort=5070\nip=127.0.0.1\nGRACEFUL_SHUTDOWN=true\n', 'Restcomm-Heartbeat: 1'), 5070);
    expect(s.registry.findByAddress('127.0.0.1', 5070)?.state).toBe('graceful');
  });

  it('ignores (and counts) a heartbeat on the external port', () => {
    const s = setup();
    s.fromClient(heartbeat('udpPort=5070\nip=127.0.0.1\n'), 5070);
    expect(s.registry.size).toBe(0);
    expect(s.ext.sent).toHaveLength(0);
    expect(s.int.sent).toHaveLength(0);
    expect(s.stats.heartbeatOnExternalPort).toBe(1);
  });
});

describe('single entry point', () => {
  it('adds one Via and one Record-Route, and tells nodes apart by their source address', () => {
    const s = setup({ internalPort: '' });
    expect(s.config.sip.singleEntryMode).toBe(true);
    s.addNode(5070);
    s.fromClient(request('INVITE'));
    const msg = s.ext.sent.find((x) => x.msg.isRequest)!.msg;
    expect(msg.headerValues('via')).toHaveLength(2);
    expect(msg.headerValues('record-route')).toHaveLength(1);
    // The node's BYE toward the caller arrives on the same port and goes to the caller.
    s.ext.sent.length = 0;
    s.fromClient(request('BYE', { ruri: 'sip:alice@127.0.0.1:5061', via: 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-nbye', toTag: 'x', route: ['<sip:127.0.0.1:5060;transport=udp;lr;node_host=127.0.0.1;node_port=5070;version=0>'] }), 5070);
    expect(s.ext.sent.map((x) => [x.host, x.port])).toEqual([['127.0.0.1', 5061]]);
  });

  it('takes a client that writes a node\'s address in its Via for a client: its request goes to the node', () => {
    const s = setup({ internalPort: '' });
    s.addNode(5070);
    s.fromClient(request('MESSAGE', { ruri: 'sip:victim@203.0.113.9:5060', via: 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-forged' }), 5099);
    expect(s.ext.sent.filter((x) => x.msg.isRequest).map((x) => [x.host, x.port])).toEqual([['127.0.0.1', 5070]]);
  });
});

describe('trust follows the side', () => {
  it('removes every copy of the X-Sip-Balancer-* headers a client wrote, then adds its own once', () => {
    const s = setup();
    s.addNode(5070);
    s.fromClient(request('REGISTER', { extra: ['X-Sip-Balancer-InitialRemoteAddr: 6.6.6.6', 'x-sip-balancer-initialremoteaddr: 7.7.7.7', 'X-Sip-Balancer-Other: 1'] }));
    const msg = s.int.sent[0]!.msg;
    expect(msg.headers.filter((h) => h.key.startsWith('x-sip-balancer-')).map((h) => `${h.name}: ${h.value}`)).toEqual([
      'X-Sip-Balancer-InitialRemoteAddr: 127.0.0.1',
      'X-Sip-Balancer-InitialRemotePort: 5061',
    ]);
  });

  it('refuses a heartbeat on a connection the balancer opened to an address that is not a node', () => {
    const s = setup();
    const flow: Flow = { transport: 'tcp', local: s.intTcp, remoteAddress: '127.0.0.9', remotePort: 5070, outbound: true, send: () => undefined };
    s.fwd.onMessage(parseMessage(heartbeat('udpPort=5070\nip=127.0.0.9\nversion=99\n')), flow);
    expect(s.registry.size).toBe(0);
    expect(s.stats.nodeSourceRefused).toBe(1);
  });

  it('overwrites a received= the client wrote itself, so replies go to its source address', () => {
    const s = setup();
    s.fromClient(request('INVITE', { via: 'SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-r;received=203.0.113.5' }));
    // No node: the 503 goes back to the source, not to the forged received.
    expect(s.ext.sent.map((x) => x.host)).toEqual(['127.0.0.1']);
  });
});

describe('default ports by transport', () => {
  it('takes a host without a port as 5061 over TLS and 5060 over UDP (RFC 3261 19.1.2)', () => {
    const { config } = loadConfigText(`host=${LB}\nexternalPort=5060\ninternalPort=5065`);
    const local = new LocalAddresses(config, [{ side: 'external', transport: 'tls', port: 5061 }]);
    expect(local.isLocal(LB, undefined, 'tls')).toBe(true);
    expect(local.isLocal(LB, undefined, 'udp')).toBe(false);
    expect(local.isLocal(LB, 5061)).toBe(true);
  });
});
