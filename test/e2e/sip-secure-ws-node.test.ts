// WebSockets on both legs, configured the legacy way (isTransportWs=true: externalPort/internalPort carry WS,
// externalSecurePort carries WSS): JsSIP over WSS reaches a node's WS port with TLS terminated, and the node's
// BYE comes back on the balancer's WebSocket to it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/tls.js';
import { SipPeer, inDialog, newToken, registerNode, uasDialog, waitActiveNodes } from '../helpers/tls-ua.js';
import { call, installJsSipGlobals, once, startJsSip } from '../helpers/jssip.js';

describe('SIP over WebSocket to a WebSocket node (isTransportWs=true, terminateTLSTraffic=true)', () => {
  let certs: TestCertificates;
  let lb: Daemon;
  let node: SipPeer;
  let stopHeartbeat: () => void;
  let ext: number;
  let secure: number;
  let int: number;

  beforeAll(async () => {
    certs = makeTestCertificates();
    lb = await startDaemon({
      properties: {
        host: '127.0.0.1',
        isTransportWs: true,
        externalPort: 0,
        externalSecurePort: 0,
        internalPort: 0,
        terminateTLSTraffic: true,
        heartbeatPort: 0,
        statisticPort: 0,
        httpPort: '',
        nodeTimeout: 3000,
        'javax.net.ssl.keyStore': certs.pemKeystore,
      },
    });
    // isTransportWs: the legacy ports are UDP + WS and WSS; the internal leg here is WS.
    [ext, secure, int] = [lb.port('externalWsPort'), lb.port('externalWssPort'), lb.port('internalWsPort')];
    const [hb, stat] = [lb.port('heartbeatPort'), lb.port('statisticPort')];
    node = await SipPeer.start({ transport: 'ws', listenPort: 0, autoAnswer: true });
    stopHeartbeat = await registerNode(hb, { hostName: 'wsnode', ip: '127.0.0.1', wsPort: node.port, sessionId: 'ws1' });
    installJsSipGlobals(readFileSync(certs.certPem, 'utf8'));
    await waitActiveNodes(stat, 1);
  });

  afterAll(async () => {
    stopHeartbeat?.();
    await lb?.stop();
    await node?.close();
    if (certs) rmSync(certs.dir, { recursive: true, force: true });
  });

  it('opens WS on externalPort and WSS on externalSecurePort', async () => {
    const plain = await startJsSip(`ws://127.0.0.1:${ext}`, 'plain');
    const tls = await startJsSip(`wss://127.0.0.1:${secure}`, 'secure');
    expect(plain.ua.isConnected() && tls.ua.isConnected()).toBe(true);
    await Promise.all([plain.stop(), tls.stop()]);
  });

  it('a WSS call reaches the node over WS (Via WS, Record-Route transport=ws), and the node hangs up', async () => {
    const agent = await startJsSip(`wss://127.0.0.1:${secure}`, 'wsscaller');
    try {
      const session = call(agent, `sip:bob@127.0.0.1:${secure}`);
      await once(session, 'confirmed');
      const callId = (session as unknown as { _request: { call_id: string } })._request.call_id;
      const inv = await node.waitFor((m) => m.method === 'INVITE' && m.callId === callId, 5000, 'the INVITE over WS');
      const vias = inv.msg.headerValues('via');
      expect(vias[0]).toMatch(new RegExp(`^SIP/2.0/WS 127.0.0.1:${int};`));
      expect(vias[1]).toMatch(new RegExp(`^SIP/2.0/WSS 127.0.0.1:${secure};`));
      const rr = inv.msg.headerValues('record-route');
      expect(rr[0]).toContain(`:${int};transport=ws;lr;node_host=127.0.0.1;node_port=${node.port}`);
      expect(rr[1]).toContain(`:${secure};transport=wss;lr`);
      expect(inv.msg.header('contact')).toMatch(/lbflow=127\.0\.0\.1~\d+~wss/);
      await node.waitFor((m) => m.method === 'ACK' && m.callId === callId, 5000, 'the ACK');
      const ended = once<{ originator: string }>(session, 'ended');
      inv.reply(inDialog(uasDialog(inv.msg), 'BYE', `SIP/2.0/WS 127.0.0.1:${node.port};branch=z9hG4bK${newToken()}`));
      expect((await ended).originator).toBe('remote');
      await node.waitFor((m) => !m.isRequest && m.status === 200 && m.cseq.method === 'BYE' && m.callId === callId, 5000, '200 to the BYE');
    } finally {
      await agent.stop();
    }
  });
});
