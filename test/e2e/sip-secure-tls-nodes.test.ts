// SIP over TLS on both legs (no termination): a TLS client reaches a TLS node through the balancer, which
// requires client certificates (TLS_CLIENT_AUTH_TYPE=Enabled) and verifies the node against its trust store.
// And internalTransport=UDP: a TLS client's call goes to the node over UDP.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { makeTestCertificates, tlsSipDaemonProperties, type TestCertificates } from '../helpers/tls.js';
import { SipPeer, SDP, buildRequest, inDialog, lbstat, lbstatUntil, newToken, registerNode, startDualNode, uacDialog, waitActiveNodes, type DualNode } from '../helpers/tls-ua.js';

describe('SIP over TLS end to end without termination', () => {
  let certs: TestCertificates;
  let other: TestCertificates;
  let trusted: SipPeer;
  let untrusted: SipPeer;
  let lbTrusted: Daemon;
  let lbUntrusted: Daemon;
  const stops: (() => void)[] = [];
  let ports: number[];
  let ca: string;

  beforeAll(async () => {
    certs = makeTestCertificates();
    other = makeTestCertificates();
    ca = readFileSync(certs.certPem, 'utf8');
    const identity = { cert: readFileSync(certs.certPem), key: readFileSync(certs.keyPem) };
    // The node trusts the balancer's certificate (the same test CA) and asks for it.
    trusted = await SipPeer.start({ transport: 'tls', listenPort: 0, autoAnswer: true, tls: { ...identity, ca, requestCert: true, rejectUnauthorized: true } });
    untrusted = await SipPeer.start({ transport: 'tls', listenPort: 0, autoAnswer: true, tls: { cert: readFileSync(other.certPem), key: readFileSync(other.keyPem) } });
    const props = (ext: number, int: number, hb: number, stat: number): Record<string, string | number> => ({
      host: '127.0.0.1',
      externalTlsPort: ext,
      internalTlsPort: int,
      heartbeatPort: hb,
      statisticPort: stat,
      httpPort: '',
      nodeTimeout: 3000,
      'javax.net.ssl.keyStore': certs.pemKeystore,
      'javax.net.ssl.trustStore': certs.trustP12,
      'javax.net.ssl.trustStorePassword': certs.password,
      'gov.nist.javax.sip.TLS_CLIENT_AUTH_TYPE': 'Enabled',
    });
    [lbTrusted, lbUntrusted] = await Promise.all([startDaemon({ properties: props(0, 0, 0, 0) }), startDaemon({ properties: props(0, 0, 0, 0) })]);
    // Each daemon's external TLS, internal TLS, heartbeat and statistics ports, as they bound them.
    ports = [lbTrusted, lbUntrusted].flatMap((d) => ['externalTlsPort', 'internalTlsPort', 'heartbeatPort', 'statisticPort'].map((k) => d.port(k)));
    stops.push(await registerNode(ports[2]!, { hostName: 'tls1', ip: '127.0.0.1', tlsPort: trusted.port, sessionId: 't1' }));
    stops.push(await registerNode(ports[6]!, { hostName: 'tls2', ip: '127.0.0.1', tlsPort: untrusted.port, sessionId: 't2' }));
    await Promise.all([waitActiveNodes(ports[3]!, 1), waitActiveNodes(ports[7]!, 1)]);
  });

  afterAll(async () => {
    for (const stop of stops) stop();
    await Promise.all([lbTrusted?.stop(), lbUntrusted?.stop()]);
    await trusted?.close();
    await untrusted?.close();
    for (const c of [certs, other]) if (c) rmSync(c.dir, { recursive: true, force: true });
  });

  it('a TLS client with a trusted certificate (Enabled) calls a TLS node over TLS on both legs', async () => {
    const ua = await SipPeer.start({ transport: 'tls', user: 'carol', tls: { ca, cert: readFileSync(certs.certPem), key: readFileSync(certs.keyPem) } });
    await ua.connect('127.0.0.1', ports[0]!);
    try {
      const callId = newToken();
      const from = `<sip:carol@127.0.0.1>;tag=${newToken()}`;
      ua.send(buildRequest({ method: 'INVITE', ruri: `sip:bob@127.0.0.1:${ports[0]};transport=tls`, via: ua.via(), from, to: '<sip:bob@127.0.0.1>', callId, cseq: 1, contact: ua.contact(), body: SDP }));
      const inv = await trusted.waitFor((m) => m.method === 'INVITE' && m.callId === callId, 5000, 'the INVITE over TLS');
      const vias = inv.msg.headerValues('via');
      expect(vias[0]).toMatch(new RegExp(`^SIP/2.0/TLS 127.0.0.1:${ports[1]};`));
      expect(vias[1]).toMatch(new RegExp(`^SIP/2.0/TLS 127.0.0.1:${ports[0]};`));
      const rr = inv.msg.headerValues('record-route');
      expect(rr[0]).toContain(`:${ports[1]};transport=tls;lr;node_host=127.0.0.1;node_port=${trusted.port}`);
      expect(rr[1]).toContain(`:${ports[0]};transport=tls;lr`);
      // Same transport on both legs: the Contact goes through untouched.
      expect(inv.msg.header('contact')).toBe(ua.contact());
      const ok = await ua.waitFor((m) => m.status === 200 && m.callId === callId, 5000, '200 OK');
      const dialog = uacDialog({ callId, from, cseq: 1 }, ok.msg);
      ua.send(inDialog(dialog, 'ACK', ua.via()));
      ua.send(inDialog(dialog, 'BYE', ua.via()));
      await trusted.waitFor((m) => m.method === 'BYE' && m.callId === callId, 5000, 'the BYE');
      await ua.waitFor((m) => m.status === 200 && m.cseq.method === 'BYE', 5000, '200 to BYE');
    } finally {
      await ua.close();
    }
  });

  it('refuses a TLS client without a certificate when client certificates are required (Enabled), and counts it', async () => {
    const before = (await lbstat(ports[3]!)).SipTlsHandshakeFailures as number;
    const socket = tlsConnect({ host: '127.0.0.1', port: ports[0]!, ca });
    socket.on('error', () => undefined);
    let answered = '';
    socket.on('data', (d: Buffer) => (answered += d.toString()));
    socket.once('secureConnect', () => socket.write(buildRequest({ method: 'OPTIONS', ruri: `sip:127.0.0.1:${ports[0]}`, via: `SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK${newToken()}`, from: `<sip:x@127.0.0.1>;tag=1`, to: '<sip:y@127.0.0.1>', callId: newToken(), cseq: 1 })));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    expect(answered).toBe('');
    const after = await lbstatUntil(ports[3]!, (m) => m.SipTlsHandshakeFailures !== before);
    expect(after.SipTlsHandshakeFailures).toBe(before + 1);
  });

  it('does not send to a node whose certificate the trust store does not vouch for: the client gets 503', async () => {
    const ua = await SipPeer.start({ transport: 'tls', user: 'dave', tls: { ca, cert: readFileSync(certs.certPem), key: readFileSync(certs.keyPem) } });
    await ua.connect('127.0.0.1', ports[4]!);
    try {
      const callId = newToken();
      ua.send(buildRequest({ method: 'INVITE', ruri: `sip:bob@127.0.0.1:${ports[4]}`, via: ua.via(), from: `<sip:dave@127.0.0.1>;tag=${newToken()}`, to: '<sip:bob@127.0.0.1>', callId, cseq: 1, contact: ua.contact(), body: SDP }));
      const r = await ua.waitFor((m) => !m.isRequest && m.status >= 300 && m.callId === callId, 5000, 'a final error');
      expect(r.msg.status).toBe(503);
      expect(untrusted.received.some((x) => x.msg.callId === callId)).toBe(false);
      expect((await lbstat(ports[7]!)).SipTlsHandshakeFailures).toBeGreaterThanOrEqual(1);
    } finally {
      await ua.close();
    }
  });
});

describe('internalTransport=UDP: a TLS client reaches a node over UDP', () => {
  let certs: TestCertificates;
  let lb: Daemon;
  let nodeUdp: SipPeer;
  let nodeTcp: SipPeer;
  let node: DualNode | undefined;
  let ports: number[];

  beforeAll(async () => {
    certs = makeTestCertificates();
    lb = await startDaemon({ properties: tlsSipDaemonProperties(certs, { externalTlsPort: 0, internalTransport: 'UDP' }) });
    ports = ['externalTlsPort', 'internalUdpPort', 'internalTcpPort', 'heartbeatPort', 'statisticPort'].map((k) => lb.port(k));
    node = await startDualNode(ports[3]!, ports[4]!, { hostName: 'n', sessionId: 'u1' });
    ({ udp: nodeUdp, tcp: nodeTcp } = node);
  });

  afterAll(async () => {
    await node?.close();
    await lb?.stop();
    if (certs) rmSync(certs.dir, { recursive: true, force: true });
  });

  it('sends the INVITE over UDP with the Contact marked ;transport=tls, and the call completes', async () => {
    const ca = readFileSync(certs.certPem, 'utf8');
    const ua = await SipPeer.start({ transport: 'tls', user: 'erin', tls: { ca } });
    await ua.connect('127.0.0.1', ports[0]!);
    try {
      const callId = newToken();
      const from = `<sip:erin@127.0.0.1>;tag=${newToken()}`;
      ua.send(buildRequest({ method: 'INVITE', ruri: `sip:bob@127.0.0.1:${ports[0]}`, via: ua.via(), from, to: '<sip:bob@127.0.0.1>', callId, cseq: 1, contact: `<sip:erin@127.0.0.1:${ua.port}>`, body: SDP }));
      const inv = await nodeUdp.waitFor((m) => m.method === 'INVITE' && m.callId === callId, 5000, 'the INVITE over UDP');
      expect(inv.msg.headerValues('via')[0]).toMatch(new RegExp(`^SIP/2.0/UDP 127.0.0.1:${ports[1]};`));
      expect(inv.msg.headerValues('record-route')[0]).toContain(`:${ports[1]};transport=udp;lr`);
      expect(inv.msg.header('contact')).toBe(`<sip:erin@127.0.0.1:${ua.port};transport=tls>`);
      expect(nodeTcp.received).toHaveLength(0);
      const ok = await ua.waitFor((m) => m.status === 200 && m.callId === callId, 5000, '200 OK');
      const dialog = uacDialog({ callId, from, cseq: 1 }, ok.msg);
      ua.send(inDialog(dialog, 'ACK', ua.via()));
      ua.send(inDialog(dialog, 'BYE', ua.via()));
      await nodeUdp.waitFor((m) => m.method === 'BYE' && m.callId === callId, 5000, 'the BYE over UDP');
      await ua.waitFor((m) => m.status === 200 && m.cseq.method === 'BYE', 5000, '200 to BYE');
    } finally {
      await ua.close();
    }
  });
});
