// SIP over TLS, WS and WSS end to end: the daemon as a child process, JsSIP as the WebSocket user agent, a TLS
// test UA (node:tls + the project's framer), and nodes of our own registered with the JSON heartbeat.
// One balancer terminates TLS (TLS/WSS clients reach UDP/TCP nodes), with client certificates Wanted.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { WebSocket } from 'ws';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { makeTestCertificates, tlsSipDaemonProperties, type TestCertificates } from '../helpers/tls.js';
import { SipPeer, SDP, buildRequest, firstHop, inDialog, lbstat, lbstatUntil, newToken, responseTo, startDualNode, uacDialog, uasDialog, type DualNode } from '../helpers/tls-ua.js';
import { call, installJsSipGlobals, once, startJsSip } from '../helpers/jssip.js';
import type { SipMessage } from '../../src/sip/message.js';
import { uriOfNameAddr } from '../../src/sip/uri.js';
import type { RTCSession } from 'jssip/lib/RTCSession.js';

const isInvite = (m: SipMessage): boolean => m.isRequest && m.method === 'INVITE';

describe('SIP over TLS, WS and WSS with TLS terminated (terminateTLSTraffic=true, client certificates Wanted)', () => {
  let certs: TestCertificates;
  let lb: Daemon;
  let ports: Record<'udp' | 'tcp' | 'tls' | 'ws' | 'wss' | 'intUdp' | 'intTcp' | 'hb' | 'stat', number>;
  let nodeUdp: SipPeer;
  let nodeTcp: SipPeer;
  let node: DualNode | undefined;
  let ca: string;

  beforeAll(async () => {
    certs = makeTestCertificates();
    ca = readFileSync(certs.certPem, 'utf8');
    lb = await startDaemon({
      properties: tlsSipDaemonProperties(certs, {
        externalUdpPort: 0,
        externalTcpPort: 0,
        externalTlsPort: 0,
        externalWsPort: 0,
        externalWssPort: 0,
        sipConnectionIdleTimeout: 60_000,
        terminateTLSTraffic: true,
        'javax.net.ssl.trustStore': certs.certPem,
        'gov.nist.javax.sip.TLS_CLIENT_AUTH_TYPE': 'Want',
      }),
    });
    const p = (key: string): number => lb.port(key);
    ports = { udp: p('externalUdpPort'), tcp: p('externalTcpPort'), tls: p('externalTlsPort'), ws: p('externalWsPort'), wss: p('externalWssPort'), intUdp: p('internalUdpPort'), intTcp: p('internalTcpPort'), hb: p('heartbeatPort'), stat: p('statisticPort') };
    // One node: UDP and TCP on the same port number (no TLS, no WS port: the balancer terminates both).
    node = await startDualNode(ports.hb, ports.stat, { hostName: 'n1', sessionId: 's1' });
    ({ udp: nodeUdp, tcp: nodeTcp } = node);
    installJsSipGlobals(ca);
  });

  afterAll(async () => {
    await node?.close();
    await lb?.stop();
    if (certs) rmSync(certs.dir, { recursive: true, force: true });
  });

  it('a TLS client without a certificate (Want) calls a TCP node: TLS terminated, Contact marked, Record-Route per leg, BYE both ways', async () => {
    const ua = await SipPeer.start({ transport: 'tls', tls: { ca }, user: 'alice' });
    await ua.connect('127.0.0.1', ports.tls);
    try {
      const callId = newToken();
      const from = `<sip:alice@127.0.0.1>;tag=${newToken()}`;
      const invite = { callId, from, cseq: 1 };
      ua.send(buildRequest({ method: 'INVITE', ruri: `sip:bob@127.0.0.1:${ports.tls};transport=tls`, via: ua.via(), from, to: '<sip:bob@127.0.0.1>', callId, cseq: 1, contact: ua.contact(), body: SDP }));

      const atNode = await nodeTcp.waitFor((m) => isInvite(m) && m.callId === callId, 5000, 'the INVITE over TCP');
      const vias = atNode.msg.headerValues('via');
      expect(vias[0]).toMatch(new RegExp(`^SIP/2.0/TCP 127.0.0.1:${ports.intTcp};`));
      expect(vias[1]).toMatch(new RegExp(`^SIP/2.0/TLS 127.0.0.1:${ports.tls};`));
      const rr = atNode.msg.headerValues('record-route');
      expect(rr[0]).toContain(`sip:127.0.0.1:${ports.intTcp};transport=tcp;lr;node_host=127.0.0.1;node_port=${nodeTcp.port}`);
      expect(rr[1]).toContain(`sip:127.0.0.1:${ports.tls};transport=tls;lr`);
      // The node learns how to reach the client back: through the balancer, over TLS.
      expect(atNode.msg.header('contact')).toContain(`sip:alice@127.0.0.1:${ua.port};transport=tls`);
      expect(atNode.msg.requestUri).toBe(`sip:bob@127.0.0.1:${nodeTcp.port};transport=tls`);

      const ok = await ua.waitFor((m) => !m.isRequest && m.status === 200 && m.callId === callId, 5000, '200 OK');
      const dialog = uacDialog(invite, ok.msg);
      expect(dialog.routes[0]).toContain(`:${ports.tls};transport=tls`);
      ua.send(inDialog(dialog, 'ACK', ua.via()));
      await nodeTcp.waitFor((m) => m.method === 'ACK' && m.callId === callId, 5000, 'the ACK');
      ua.send(inDialog(dialog, 'BYE', ua.via()));
      await nodeTcp.waitFor((m) => m.method === 'BYE' && m.callId === callId, 5000, 'the BYE from the client');
      await ua.waitFor((m) => !m.isRequest && m.status === 200 && m.cseq.method === 'BYE' && m.callId === callId, 5000, '200 to BYE');

      // Second call, hung up by the node: its BYE follows the Record-Route back to the TLS connection.
      const callId2 = newToken();
      ua.send(buildRequest({ method: 'INVITE', ruri: `sip:bob@127.0.0.1:${ports.tls}`, via: ua.via(), from, to: '<sip:bob@127.0.0.1>', callId: callId2, cseq: 1, contact: ua.contact(), body: SDP }));
      const inv2 = await nodeTcp.waitFor((m) => isInvite(m) && m.callId === callId2, 5000, 'the second INVITE');
      await ua.waitFor((m) => m.status === 200 && m.callId === callId2, 5000, '200 OK');
      const nodeDialog = uasDialog(inv2.msg);
      inv2.reply(inDialog(nodeDialog, 'BYE', `SIP/2.0/TCP 127.0.0.1:${nodeTcp.port};branch=z9hG4bK${newToken()};rport`));
      const bye = await ua.waitFor((m) => m.method === 'BYE' && m.callId === callId2, 5000, 'the BYE from the node');
      expect(bye.msg.requestUri).toBe(`sip:alice@127.0.0.1:${ua.port};transport=tls`);
      expect(bye.msg.headerValues('via')[0]).toMatch(/^SIP\/2.0\/TLS /);
      bye.reply(responseTo(bye.msg, 200));
      await inv2Answered(nodeTcp, callId2);
    } finally {
      await ua.close();
    }
  });

  it('JsSIP over WSS registers through the balancer: the node (UDP) sees the REGISTER with the client reachable over WSS', async () => {
    const agent = await startJsSip(`wss://127.0.0.1:${ports.wss}`, 'wssreg');
    try {
      const registered = once(agent.ua, 'registered');
      agent.ua.register();
      await registered;
      const reg = await nodeUdp.waitFor((m) => m.method === 'REGISTER' && m.fromUser === 'wssreg', 5000, 'the REGISTER');
      const vias = reg.msg.headerValues('via');
      expect(vias[0]).toMatch(new RegExp(`^SIP/2.0/UDP 127.0.0.1:${ports.intUdp};`));
      expect(vias[1]).toMatch(new RegExp(`^SIP/2.0/WSS 127.0.0.1:${ports.wss};`));
      expect(vias[2]).toMatch(/^SIP\/2.0\/WSS [^ ]+\.invalid;/);
      expect(reg.msg.header('contact')).toMatch(/;transport=ws[;>]/);
      expect(reg.msg.header('contact')).toMatch(/lbflow=127\.0\.0\.1~\d+~wss/);
    } finally {
      await agent.stop();
    }
  });

  it('JsSIP over WSS calls a UDP node: the call completes, BYE from JsSIP reaches the node, BYE from the node reaches JsSIP', async () => {
    const agent = await startJsSip(`wss://127.0.0.1:${ports.wss}`, 'wsscall');
    try {
      const session = call(agent, `sip:bob@127.0.0.1:${ports.wss}`);
      await once(session, 'confirmed');
      const callId = (session as unknown as { _request: { call_id: string } })._request.call_id;
      const inv = await nodeUdp.waitFor((m) => isInvite(m) && m.callId === callId, 5000, 'the INVITE');
      const rr = inv.msg.headerValues('record-route');
      expect(rr[0]).toContain(`:${ports.intUdp};transport=udp;lr`);
      expect(rr[1]).toContain(`:${ports.wss};transport=wss;lr`);
      await nodeUdp.waitFor((m) => m.method === 'ACK' && m.callId === callId, 5000, 'the ACK');
      session.terminate();
      await nodeUdp.waitFor((m) => m.method === 'BYE' && m.callId === callId, 5000, 'the BYE from JsSIP');

      const session2 = call(agent, `sip:bob@127.0.0.1:${ports.wss}`);
      await once(session2, 'confirmed');
      const callId2 = (session2 as unknown as { _request: { call_id: string } })._request.call_id;
      const inv2 = await nodeUdp.waitFor((m) => isInvite(m) && m.callId === callId2, 5000, 'the second INVITE');
      const ended = once<{ originator: string }>(session2, 'ended');
      inv2.reply(inDialog(uasDialog(inv2.msg), 'BYE', `SIP/2.0/UDP 127.0.0.1:${nodeUdp.port};branch=z9hG4bK${newToken()};rport`));
      expect((await ended).originator).toBe('remote');
      await nodeUdp.waitFor((m) => !m.isRequest && m.status === 200 && m.cseq.method === 'BYE' && m.callId === callId2, 5000, '200 to the node BYE');
    } finally {
      await agent.stop();
    }
  });

  it('a node calls a JsSIP client registered over WSS: the INVITE finds its WebSocket by the registered Contact, BYE from JsSIP reaches the node', async () => {
    const agent = await startJsSip(`wss://127.0.0.1:${ports.wss}`, 'callee');
    try {
      const registered = once(agent.ua, 'registered');
      agent.ua.register();
      await registered;
      const reg = await nodeUdp.waitFor((m) => m.method === 'REGISTER' && m.fromUser === 'callee', 5000, 'the REGISTER');
      const target = uriOfNameAddr(reg.msg.header('contact')!);
      const callId = newToken();
      const from = `<sip:node@127.0.0.1:${nodeUdp.port}>;tag=${newToken()}`;
      const incoming = once<{ originator: string; session: RTCSession }>(agent.ua, 'newRTCSession');
      nodeUdp.send(buildRequest({ method: 'INVITE', ruri: target, via: nodeUdp.via(), from, to: '<sip:callee@example.test>', callId, cseq: 1, contact: nodeUdp.contact(), body: SDP }), '127.0.0.1', ports.intUdp);
      const { session } = await incoming;
      // JsSIP got its own Contact back as the Request-URI, without the balancer's flow alias.
      const ruri = (session as unknown as { _request: { ruri: { toString(): string } } })._request.ruri.toString();
      expect(ruri).not.toContain('lbflow');
      const confirmed = once(session, 'confirmed');
      session.answer({ mediaConstraints: { audio: false, video: false } });
      const ok = await nodeUdp.waitFor((m) => !m.isRequest && m.status === 200 && m.callId === callId, 5000, '200 OK from JsSIP');
      const rr = ok.msg.headerValues('record-route');
      expect(rr[0]).toContain(`:${ports.wss};transport=wss;lr`);
      expect(rr[1]).toContain(`:${ports.intUdp};transport=udp;lr`);
      const dialog = uacDialog({ callId, from, cseq: 1 }, ok.msg);
      const hop = firstHop(dialog);
      expect(hop).toEqual({ host: '127.0.0.1', port: ports.intUdp });
      nodeUdp.send(inDialog(dialog, 'ACK', nodeUdp.via()), hop.host, hop.port);
      await confirmed;
      session.terminate();
      await nodeUdp.waitFor((m) => m.method === 'BYE' && m.callId === callId, 5000, 'the BYE from JsSIP');
    } finally {
      await agent.stop();
    }
  });

  it('JsSIP over plain WS registers and calls a UDP node', async () => {
    const agent = await startJsSip(`ws://127.0.0.1:${ports.ws}`, 'wsplain');
    try {
      const registered = once(agent.ua, 'registered');
      agent.ua.register();
      await registered;
      const session = call(agent, `sip:bob@127.0.0.1:${ports.ws}`);
      await once(session, 'confirmed');
      const callId = (session as unknown as { _request: { call_id: string } })._request.call_id;
      const inv = await nodeUdp.waitFor((m) => isInvite(m) && m.callId === callId, 5000, 'the INVITE');
      expect(inv.msg.headerValues('via')[1]).toMatch(new RegExp(`^SIP/2.0/WS 127.0.0.1:${ports.ws};`));
      session.terminate();
      await nodeUdp.waitFor((m) => m.method === 'BYE' && m.callId === callId, 5000, 'the BYE');
    } finally {
      await agent.stop();
    }
  });

  it('counts open connections per transport in /lbstat', async () => {
    const agent = await startJsSip(`wss://127.0.0.1:${ports.wss}`, 'counted');
    try {
      const stat = await lbstatUntil(ports.stat, (s) => ((s.SipActiveConnectionsByTransport as Record<string, number> | undefined)?.wss ?? 0) >= 1);
      expect((stat.SipActiveConnectionsByTransport as Record<string, number>).wss).toBeGreaterThanOrEqual(1);
    } finally {
      await agent.stop();
    }
    const after = await lbstatUntil(ports.stat, (s) => ((s.SipActiveConnectionsByTransport as Record<string, number>).wss ?? 0) === 0);
    expect((after.SipActiveConnectionsByTransport as Record<string, number>).wss).toBe(0);
  });

  it('refuses a WebSocket whose subprotocol is not sip with 400 and a reason', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${ports.ws}`, 'chat');
    const refusal = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      ws.on('open', () => reject(new Error('a chat WebSocket was accepted')));
      ws.on('error', () => undefined);
    });
    expect(refusal.status).toBe(400);
    expect(refusal.body).toContain('subprotocol "sip" required');
    expect(refusal.body).toContain('chat');
  });

  it('disconnects a TLS client that speaks garbage and counts the failed handshake', async () => {
    const before = (await lbstat(ports.stat)).SipTlsHandshakeFailures as number;
    const socket = netConnect({ host: '127.0.0.1', port: ports.tls });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.on('error', () => undefined);
    socket.write('INVITE sip:bob@example.com SIP/2.0\r\nthis is not TLS\r\n\r\n');
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const stat = await lbstatUntil(ports.stat, (s) => (s.SipTlsHandshakeFailures as number) > before);
    expect(stat.SipTlsHandshakeFailures).toBe(before + 1);
  });
});

async function inv2Answered(node: SipPeer, callId: string): Promise<void> {
  await node.waitFor((m) => !m.isRequest && m.status === 200 && m.cseq.method === 'BYE' && m.callId === callId, 5000, '200 to the node BYE');
}
