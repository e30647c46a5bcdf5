// Keys of the original an operator relies on, end to end with raw UDP/TCP peers whose bytes the test controls:
// publicIp (Record-Route and Contact toward clients), isSend5xxResponse* (nodes that refuse TCP), isUseWithNexmo
// (received/rport stripped from a node's Via in a client's response), and --check on the manual's Example 1.

import { describe, it, expect, afterEach } from 'vitest';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import net from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { startHeartbeat, type HeartbeatSender } from '../helpers/sip-heartbeat.js';
import { HOST, startBalancer, type Balancer } from '../helpers/sip-balancer.js';
import { ROOT, runCli } from '../helpers/daemon.js';
import { makeTestCertificates } from '../helpers/tls.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function balancer(extra: Record<string, string | number | boolean>): Promise<Balancer> {
  const lb = await startBalancer(extra);
  cleanups.push(() => lb.stop());
  return lb;
}

async function registerNode(lb: Balancer, udpPort: number, tcpPort = udpPort): Promise<void> {
  const hb: HeartbeatSender = await startHeartbeat({ balancerPort: lb.internalPort, node: { udpPort, tcpPort }, intervalMs: 300 });
  cleanups.push(() => hb.stop());
  await hb.waitAnswered(1);
}

/** A UDP peer that collects what it receives. */
async function udpPeer(host = HOST): Promise<{ socket: UdpSocket; port: number; next(match: (text: string) => boolean): Promise<string> }> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const got: string[] = [];
  const waiters: { match: (t: string) => boolean; resolve: (t: string) => void }[] = [];
  socket.on('message', (m) => {
    const text = m.toString('latin1');
    const w = waiters.findIndex((x) => x.match(text));
    if (w >= 0) waiters.splice(w, 1)[0]!.resolve(text);
    else got.push(text);
  });
  await new Promise<void>((r) => socket.bind(0, host, () => r()));
  cleanups.push(() => new Promise<void>((r) => socket.close(() => r())));
  return {
    socket,
    port: socket.address().port,
    next: (match) => {
      const i = got.findIndex(match);
      if (i >= 0) return Promise.resolve(got.splice(i, 1)[0]!);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no matching SIP message within 5 s')), 5000);
        waiters.push({ match, resolve: (t) => (clearTimeout(timer), resolve(t)) });
      });
    },
  };
}

const headers = (text: string, name: string): string[] =>
  text.split('\r\n').filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`)).map((l) => l.slice(l.indexOf(':') + 1).trim());

/** A response to `req` that copies Via, Record-Route, From, To (tagged), Call-ID and CSeq. */
function responseTo(req: string, status: string, extra: string[] = []): string {
  const copy = (name: string): string[] => headers(req, name).map((v) => `${name}: ${v}`);
  return [`SIP/2.0 ${status}`, ...copy('Via'), ...copy('Record-Route'), ...copy('From'), `To: ${headers(req, 'To')[0]};tag=t1`, ...copy('Call-ID'), ...copy('CSeq'), ...extra, 'Content-Length: 0', '', ''].join('\r\n');
}

function invite(transport: 'UDP' | 'TCP', lbPort: number, localPort: number, callId: string, host = HOST): string {
  const h = host.includes(':') ? `[${host}]` : host;
  return [
    `INVITE sip:bob@${h}:${lbPort} SIP/2.0`,
    `Via: SIP/2.0/${transport} ${h}:${localPort};branch=z9hG4bK-${callId};rport`,
    `From: <sip:alice@${h}>;tag=a1`,
    `To: <sip:bob@${h}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:alice@${h}:${localPort}>`,
    'Max-Forwards: 70',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

describe('publicIp', () => {
  it('gives clients the public address in Record-Route and in a Contact naming the balancer', async () => {
    const node = await udpPeer();
    const lb = await balancer({ publicIp: '203.0.113.7' });
    await registerNode(lb, node.port);
    const client = await udpPeer();
    client.socket.send(invite('UDP', lb.externalPort, client.port, 'pub1'), lb.externalPort, HOST);
    const atNode = await node.next((t) => t.startsWith('INVITE'));
    // The node sees the external Record-Route with the public address (its own entry stays private).
    expect(headers(atNode, 'Record-Route').join(',')).toContain(`sip:203.0.113.7:${lb.externalPort};transport=udp`);
    // A node that puts the balancer's private external address in its Contact.
    node.socket.send(responseTo(atNode, '200 OK', [`Contact: <sip:bob@${HOST}:${lb.externalPort};transport=udp>`]), lb.internalPort, HOST);
    const ok = await client.next((t) => t.startsWith('SIP/2.0 200'));
    const rr = headers(ok, 'Record-Route').join(',');
    expect(rr).toContain(`sip:203.0.113.7:${lb.externalPort}`);
    expect(rr).not.toContain(`sip:${HOST}:${lb.externalPort}`);
    expect(headers(ok, 'Contact')).toEqual([`<sip:bob@203.0.113.7:${lb.externalPort};transport=udp>`]);
  });

  it('on a dual-stack balancer, gives IPv4 clients publicIp and IPv6 clients publicIpv6', async () => {
    const node = await udpPeer();
    const lb = await balancer({ ipv6Host: '::1', publicIp: '203.0.113.7', publicIpv6: '2001:db8::7' });
    await registerNode(lb, node.port);
    const ext6 = lb.sipPort('external', 'udp', 6);
    for (const [host, port, callId, pub, priv] of [
      [HOST, lb.externalPort, 'pub4', `203.0.113.7:${lb.externalPort}`, `${HOST}:${lb.externalPort}`],
      ['::1', ext6, 'pub6', `[2001:db8::7]:${ext6}`, `[::1]:${ext6}`],
    ] as const) {
      const client = await udpPeer(host);
      client.socket.send(invite('UDP', port, client.port, callId, host), port, host);
      const atNode = await node.next((t) => t.startsWith('INVITE') && t.includes(`Call-ID: ${callId}`));
      node.socket.send(responseTo(atNode, '200 OK', [`Contact: <sip:bob@${priv};transport=udp>`]), lb.internalPort, HOST);
      const ok = await client.next((t) => t.startsWith('SIP/2.0 200'));
      const rr = headers(ok, 'Record-Route').join(',');
      expect(rr, `Record-Route toward a client on ${host}`).toContain(`sip:${pub}`);
      expect(rr).not.toContain(`sip:${priv}`);
      expect(headers(ok, 'Contact')).toEqual([`<sip:bob@${pub};transport=udp>`]);
    }
  });

  it('refuses a publicIp that is not an IPv4 address at start-up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sipbalancer-pub-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'lb.properties'), 'publicIpv6=203.0.113.7\npublic-ip=lb.example.com\n');
    const res = await runCli(['--config', join(dir, 'lb.properties'), '--check']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/:2: public-ip=lb\.example\.com: expected an IPv4 address/);
    expect(res.stderr).toMatch(/:1: publicIpv6=203\.0\.113\.7: expected an IPv6 address/);
  });
});

describe('isSend5xxResponse over TCP', () => {
  async function tcpInvite(lb: Balancer): Promise<string> {
    const socket = net.connect(lb.externalTcpPort, HOST);
    cleanups.push(() => void socket.destroy());
    await new Promise<void>((r) => socket.once('connect', () => r()));
    let text = '';
    const final = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no final response; got ${text}`)), 8000);
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        const m = /SIP\/2\.0 [2-6]\d\d [^\r]*\r\n[\s\S]*?\r\n\r\n/.exec(text);
        if (m) {
          clearTimeout(timer);
          resolve(m[0]);
        }
      });
    });
    socket.write(invite('TCP', lb.externalTcpPort, socket.localPort!, `tcp${Math.random().toString(36).slice(2)}`));
    return final;
  }

  it('answers the configured status with Retry-After and an RFC 3326 Reason when both nodes refuse', async () => {
    const lb = await balancer({ isSend5xxResponse: true, isSend5xxResponseSatusCode: 502, isSend5xxResponseReasonHeader: 'All nodes refused', noNodeRetryAfter: 9 });
    // Two nodes whose TCP ports nobody listens on: the first refuses, the one retry on the next refuses too.
    await registerNode(lb, await freePort());
    await registerNode(lb, await freePort());
    const answer = await tcpInvite(lb);
    expect(answer).toMatch(/^SIP\/2\.0 502 /);
    expect(headers(answer, 'Retry-After')).toEqual(['9']);
    expect(headers(answer, 'Reason')).toEqual(['SIP;cause=502;text="All nodes refused"']);
  });

  it('answers 503 with Retry-After and no Reason without isSend5xxResponse (and warns that the status key alone does nothing)', async () => {
    const lb = await balancer({ isSend5xxResponseSatusCode: 502 });
    await registerNode(lb, await freePort());
    const answer = await tcpInvite(lb);
    expect(answer).toMatch(/^SIP\/2\.0 503 /);
    expect(headers(answer, 'Reason')).toEqual([]);
    expect(lb.daemon.logs.some((l) => l.msg.includes('isSend5xxResponseSatusCode=502: has no effect without isSend5xxResponse=true'))).toBe(true);
  });
});

describe('isUseWithNexmo', () => {
  for (const nexmo of [true, false]) {
    it(`${nexmo ? 'strips' : 'keeps'} received/rport on the node's Via of a client's response`, async () => {
      const node = await udpPeer();
      const lb = await balancer({ isUseWithNexmo: nexmo });
      await registerNode(lb, node.port);
      const client = await udpPeer();
      const request = [
        `MESSAGE sip:alice@${HOST}:${client.port} SIP/2.0`,
        `Via: SIP/2.0/UDP ${HOST}:${node.port};branch=z9hG4bK-n1;rport`,
        `From: <sip:bob@${HOST}>;tag=n1`,
        `To: <sip:alice@${HOST}>`,
        'Call-ID: nexmo1',
        'CSeq: 1 MESSAGE',
        'Max-Forwards: 70',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      node.socket.send(request, lb.internalPort, HOST);
      const atClient = await client.next((t) => t.startsWith('MESSAGE'));
      client.socket.send(responseTo(atClient, '200 OK'), lb.externalPort, HOST);
      const ok = await node.next((t) => t.startsWith('SIP/2.0 200'));
      const topVia = headers(ok, 'Via')[0]!;
      expect(topVia).toContain(`${HOST}:${node.port};branch=z9hG4bK-n1`);
      if (nexmo) expect(topVia).not.toMatch(/received=|rport=/);
      else expect(topVia).toMatch(new RegExp(`rport=${node.port}`));
    });
  }
});

describe("--check on the manual's Example 1", () => {
  it('reports exactly the TelestaxProxyAlgorithm problem, and warns with a reason about every key it does not act on', async () => {
    const certs = makeTestCertificates();
    const dir = mkdtempSync(join(tmpdir(), 'sipbalancer-ex1-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const text = readFileSync(join(ROOT, 'test/fixtures/manual-example-1.properties'), 'latin1').replaceAll('/home/konstantinnosach/tmp/keystore', certs.p12);
    writeFileSync(join(dir, 'lb.properties'), text, 'latin1');
    const res = await runCli(['--config', join(dir, 'lb.properties'), '--check']);
    expect(res.code).toBe(2);
    const problems = res.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('warning:') && !l.startsWith('sipbalancer:'));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/:61: algorithmClass=org\.mobicens\.tools\.telestaxproxy\.TelestaxProxyAlgorithm: TelestaxProxyAlgorithm is/);
    // Nothing "not implemented yet"; keys read without acting are each warned with why.
    expect(res.stderr).not.toMatch(/not implemented|not used yet|read and ignored/);
    expect(res.stderr).toMatch(/maxConnectionSize=10: not used: in the original it sized the SMPP Netty worker pool/);
    // externalTransport and internalTransport act (no warning): the transports of the two legs.
    expect(res.stderr).not.toMatch(/externalTransport|internalTransport/);
  });
});
