// The SIP forwarder against hostile input, end to end with the daemon as a child process: random bytes,
// truncated and oversized messages on every port over UDP and TCP are dropped and counted in /lbstat,
// and the daemon keeps serving (a valid heartbeat still gets 200 OK; Max-Forwards: 0 still gets 483).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { Daemon } from '../helpers/daemon.js';
import { startLb } from '../robustness/harness.js';
import { lbstat as readLbstat } from '../helpers/json-heartbeat.js';

const HOST = '127.0.0.1';
const MAX = 4096;

let daemon: Daemon;
/** The UDP ports; externalPort=0 gives TCP a port of its own. */
let externalPort: number;
let internalPort: number;
let externalTcp: number;
let internalTcp: number;
let statisticPort: number;

beforeAll(async () => {
  // The robustness harness's daemon (every port 0, no heartbeat port, HTTP off), with no node.
  const lb = await startLb([], { maxSipMessageSize: MAX });
  daemon = lb.daemon;
  ({ externalPort, internalPort, externalTcpPort: externalTcp, internalTcpPort: internalTcp, statisticPort } = lb);
}, 20_000);

afterAll(async () => {
  await daemon?.stop();
});

const lbstat = (): Promise<Record<string, unknown>> => readLbstat(statisticPort);

async function nodes(): Promise<{ hostname: string; udpPort?: number }[]> {
  const res = await fetch(`http://${HOST}:${statisticPort}/lbinfo`);
  return ((await res.json()) as { 'Nodes info': { nodesIPv4: { hostname: string; udpPort?: number }[] } })['Nodes info'].nodesIPv4;
}

/** Sends one datagram from a fresh socket; resolves with the first reply, or undefined after `waitMs`. */
async function udp(port: number, data: Buffer | string, waitMs = 1500): Promise<string | undefined> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, HOST, resolve));
  const local = socket.address().port;
  const buf = typeof data === 'string' ? Buffer.from(data.replaceAll('{PORT}', String(local)), 'latin1') : data;
  try {
    return await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), waitMs);
      socket.once('message', (m) => {
        clearTimeout(timer);
        resolve(m.toString('latin1'));
      });
      socket.send(buf, port, HOST);
    });
  } finally {
    socket.close();
  }
}

/** Writes bytes on a fresh TCP connection; resolves with what came back and whether the daemon closed it. */
async function tcp(port: number, chunks: (Buffer | string)[], waitMs = 1500): Promise<{ reply: string; closedByPeer: boolean }> {
  const socket = connect({ host: HOST, port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const local = socket.address() as { port: number };
  let reply = '';
  let ended = false;
  socket.on('data', (d: Buffer) => (reply += d.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.once('end', () => (ended = true));
  for (const c of chunks) socket.write(typeof c === 'string' ? Buffer.from(c.replaceAll('{PORT}', String(local.port)), 'latin1') : c);
  await Promise.race([closed, new Promise((r) => setTimeout(r, waitMs))]);
  // Closed (or half-closed) by the daemon before we close it ourselves.
  const closedByPeer = ended || socket.destroyed;
  socket.destroy();
  await closed;
  return { reply, closedByPeer };
}

function heartbeat(transport: 'UDP' | 'TCP', nodePort: number, hostname: string): string {
  const body = `tcpPort=${nodePort}\r\nudpPort=${nodePort}\r\nhostname=${hostname}\r\nip=127.0.0.1\r\n`;
  return [
    `OPTIONS sip:X@127.0.0.1:${internalPort};lr SIP/2.0`,
    `Call-ID: hb-${hostname}-${Math.random()}@127.0.0.1`,
    'CSeq: 1 OPTIONS',
    'From: <sip:third-party-app-server-heartbeating-service@sip-servlets.com>;tag=4481411',
    'To: <sip:sip-load-balancer@sip-servlets.com>',
    `Via: SIP/2.0/${transport} 127.0.0.1:{PORT};branch=z9hG4bK-${Math.random().toString(36).slice(2)}`,
    'Max-Forwards: 70',
    'Contact: <sip:sender@127.0.0.1:{PORT};lr>',
    'Content-Type: text/plain;charset=UTF-8',
    'Mobicents-Heartbeat: 1',
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

function invite(transport: 'UDP' | 'TCP', maxForwards: number): string {
  return [
    `INVITE sip:service@127.0.0.1:${externalPort} SIP/2.0`,
    `Via: SIP/2.0/${transport} 127.0.0.1:{PORT};branch=z9hG4bK-mf-${Math.random().toString(36).slice(2)}`,
    `Max-Forwards: ${maxForwards}`,
    'From: <sip:alice@example.com>;tag=a1',
    'To: <sip:bob@example.com>',
    `Call-ID: mf-${Math.random()}@client`,
    'CSeq: 1 INVITE',
    'Contact: <sip:alice@127.0.0.1:{PORT}>',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

function randomBytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

describe('hostile input on every SIP port', () => {
  it('drops and counts random bytes, truncated and oversized messages over UDP and TCP, and keeps serving', async () => {
    const before = await lbstat();
    const valid = invite('UDP', 70);
    const truncated = valid.slice(0, valid.length / 2);
    const oversized = `OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nX-Big: ${'a'.repeat(MAX * 2)}\r\n\r\n`;
    for (const [port, tcpPort] of [[externalPort, externalTcp], [internalPort, internalTcp]] as const) {
      // UDP: every datagram is dropped without a reply.
      expect(await udp(port, randomBytes(1200, port), 200)).toBeUndefined();
      expect(await udp(port, truncated, 200)).toBeUndefined();
      expect(await udp(port, Buffer.from(valid.replace('Content-Length: 0', 'Content-Length: 500'), 'latin1'), 200)).toBeUndefined();
      expect(await udp(port, oversized, 200)).toBeUndefined();
      // TCP: garbage and oversized messages close the connection; a truncated message dies with its connection.
      expect((await tcp(tcpPort, [randomBytes(1200, port + 1)])).closedByPeer).toBe(true);
      expect((await tcp(tcpPort, [oversized])).closedByPeer).toBe(true);
      expect((await tcp(tcpPort, [truncated], 300)).reply).toBe('');
    }
    // The daemon sees the last connection close a moment after we close it.
    let after = await lbstat();
    for (let i = 0; i < 40 && ((after.SipDroppedByReason as Record<string, number>).truncated ?? 0) - (((before.SipDroppedByReason as Record<string, number>).truncated) ?? 0) < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await lbstat();
    }
    const dropped = after.SipDroppedByReason as Record<string, number>;
    const droppedBefore = before.SipDroppedByReason as Record<string, number>;
    // 2 ports × (random + truncated + short body) over UDP, plus random bytes over TCP.
    expect(Number(after.SipMalformedMessages) - Number(before.SipMalformedMessages)).toBeGreaterThanOrEqual(8);
    // Oversized: one datagram and one connection per port.
    expect((dropped['too-large'] ?? 0) - (droppedBefore['too-large'] ?? 0)).toBe(4);
    expect((dropped.truncated ?? 0) - (droppedBefore.truncated ?? 0)).toBe(2);
    expect(Number(after.SipConnectionErrors) - Number(before.SipConnectionErrors)).toBeGreaterThanOrEqual(4);
    expect(daemon.child.exitCode).toBeNull();

    // Still serving: a valid heartbeat gets 200 OK over UDP and over TCP, and registers its node.
    const okUdp = await udp(internalPort, heartbeat('UDP', 5971, 'robust-udp'));
    expect(okUdp?.startsWith('SIP/2.0 200 OK')).toBe(true);
    const okTcp = await tcp(internalTcp, ['\r\n\r\n', heartbeat('TCP', 5972, 'robust-tcp')], 800);
    expect(okTcp.reply).toContain('SIP/2.0 200 OK');
    const names = (await nodes()).map((n) => n.hostname);
    expect(names).toEqual(expect.arrayContaining(['robust-udp', 'robust-tcp']));
  }, 30_000);

  it('answers a double-CRLF keep-alive ping on TCP with a single CRLF', async () => {
    const r = await tcp(externalTcp, ['\r\n\r\n'], 300);
    expect(r.reply).toBe('\r\n');
  });

  it('registers nothing for a heartbeat sent to the external port, and counts it', async () => {
    const before = Number((await lbstat()).SipHeartbeatsOnExternalPort);
    expect(await udp(externalPort, heartbeat('UDP', 5981, 'external-hb'), 500)).toBeUndefined();
    const r = await tcp(externalTcp, [heartbeat('TCP', 5982, 'external-hb-tcp')], 500);
    expect(r.reply).toBe('');
    const names = (await nodes()).map((n) => n.hostname);
    expect(names).not.toContain('external-hb');
    expect(names).not.toContain('external-hb-tcp');
    expect(Number((await lbstat()).SipHeartbeatsOnExternalPort) - before).toBe(2);
  });

  it('answers Max-Forwards: 0 with 483 Too Many Hops, over UDP and TCP', async () => {
    expect((await udp(externalPort, invite('UDP', 0)))?.split('\r\n')[0]).toBe('SIP/2.0 483 Too Many Hops');
    const r = await tcp(externalTcp, [invite('TCP', 0)], 800);
    expect(r.reply.split('\r\n')[0]).toBe('SIP/2.0 483 Too Many Hops');
  });
});
