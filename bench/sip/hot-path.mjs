#!/usr/bin/env node
// The SIP hot path without sockets: the benchmark's call (INVITE/100/180/200/ACK/BYE/200, as sipp sends it) is
// recorded once through the forwarder, then its bytes are replayed through parse → choose → rewrite → serialise
// for many calls and the process's CPU time per call is printed. Stable on a loaded machine, where bench:sip is
// not: use it to see what a change to the JavaScript costs; bench:sip says what the whole path costs.
//
//   npm run build && node bench/sip/hot-path.mjs [--calls 100000] [--rounds 5] [--dist other/dist]

import { resolve } from 'node:path';

const args = process.argv.slice(2);
// --dist DIR: another build (e.g. of main) to compare with, run alternately on a noisy machine.
const DIST = new URL(args.includes('--dist') ? `file://${resolve(args[args.indexOf('--dist') + 1])}/` : '../../dist/', import.meta.url);
const load = (path) => import(new URL(path, DIST).href);
const { loadConfigText } = await load('config/load.js');
const { silentLogger } = await load('log.js');
const { NodeRegistry } = await load('registry/node-registry.js');
const { CallIdAffinityAlgorithm } = await load('algorithms/call-id-affinity.js');
const { SipStats } = await load('sip/sip-stats.js');
const { SipForwarder } = await load('sip/forwarder.js');
const { parseDatagram } = await load('sip/message.js');

const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const CALLS = opt('--calls', 100_000);
const ROUNDS = opt('--rounds', 5);
const LB = '127.0.0.1';
const [EXT, INT, UAC, UAS] = [5060, 5065, 5061, 5070];

/** A listening point that keeps the last datagram it was asked to send. */
class Point {
  last = undefined;
  sends = 0;
  constructor(side, port) {
    this.side = side;
    this.transport = 'udp';
    this.port = port;
    this.host = LB;
  }
  async start() {}
  async stop() {}
  sendTo(data) {
    this.last = data;
    this.sends++;
  }
}

/** As the UDP listening point's flow: where a datagram came from. */
class Flow {
  transport = 'udp';
  constructor(local, remotePort) {
    this.local = local;
    this.remoteAddress = LB;
    this.remotePort = remotePort;
  }
  send(data) {
    this.local.sendTo(data, this.remoteAddress, this.remotePort);
  }
}

function setup() {
  const { config } = loadConfigText(`host=${LB}\nexternalUdpPort=${EXT}\ninternalUdpPort=${INT}\nexternalTcpPort=\ninternalTcpPort=\nextraServerNodes=${LB}:${UAS}\nperformanceTestingMode=true\n`);
  const log = silentLogger();
  const registry = new NodeRegistry({ nodeTimeoutMs: 8400, heartbeatIntervalMs: 150, extraServerNodes: config.sip.extraServerNodes }, log);
  const algorithm = new CallIdAffinityAlgorithm();
  algorithm.init({ config, properties: config.properties, registry, log });
  registry.on('changed', () => algorithm.nodesChanged(registry.live()));
  registry.register({ ip: LB, hostname: 'uas', ports: { udp: UAS }, version: '0', permanent: true });
  const ext = new Point('external', EXT);
  const int = new Point('internal', INT);
  const fwd = new SipForwarder({ config, registry, algorithm, stats: new SipStats(), log }, [ext, int]);
  return { fwd, ext, int, algorithm, flows: { uac: new Flow(ext, UAC), uas: new Flow(int, UAS) } };
}

const crlf = (lines) => Buffer.from(lines.join('\r\n'), 'latin1');
const SDP = 'v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';
const headersOf = (buf, name) => buf.toString('latin1').split('\r\n').filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));

function invite(n) {
  return crlf([
    `INVITE sip:service@${LB}:${EXT} SIP/2.0`,
    `Via: SIP/2.0/UDP ${LB}:${UAC};branch=z9hG4bK-4242-${n}-0`,
    `From: sipp <sip:sipp@${LB}:${UAC}>;tag=4242SIPpTag00${n}`,
    `To: service <sip:service@${LB}:${EXT}>`,
    `Call-ID: ${n}-4242@${LB}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:sipp@${LB}:${UAC};transport=UDP>`,
    'Max-Forwards: 70',
    'Subject: Performance Test',
    'Content-Type: application/sdp',
    `Content-Length:   ${SDP.length}`,
    '',
    SDP,
  ]);
}

/** The UAS's answer to a forwarded request, as uas-pause.xml writes it ([last_Via:] joins the Vias with commas). */
function answer(req, status, n, withBody) {
  const vias = headersOf(req, 'via').map((l) => l.slice(l.indexOf(':') + 1).trim());
  const rr = headersOf(req, 'record-route');
  const text = req.toString('latin1');
  const cseq = /^CSeq:.*$/m.exec(text)[0];
  const from = /^From:.*$/m.exec(text)[0];
  const to = /^To:.*$/m.exec(text)[0];
  return crlf([
    `SIP/2.0 ${status} ${status === 180 ? 'Ringing' : 'OK'}`,
    `Via: ${vias.join(', ')}`,
    from,
    to.includes('tag=') ? to : `${to};tag=4243SIPpTag01${n}`,
    `Call-ID: ${n}-4242@${LB}`,
    cseq,
    ...rr,
    `Contact: <sip:${LB}:${UAS};transport=UDP>`,
    ...(withBody ? ['Content-Type: application/sdp', `Content-Length:   ${SDP.length}`, '', SDP] : ['Content-Length: 0', '', '']),
  ]);
}

/** The UAC's ACK or BYE along the route the 200 OK recorded. */
function inDialog(method, ok, n) {
  const routes = headersOf(ok, 'record-route').map((l) => l.slice(l.indexOf(':') + 1).trim());
  const text = ok.toString('latin1');
  return crlf([
    `${method} sip:${LB}:${UAS};transport=UDP SIP/2.0`,
    `Via: SIP/2.0/UDP ${LB}:${UAC};branch=z9hG4bK-4242-${n}-${method === 'ACK' ? 5 : 7}`,
    /^From:.*$/m.exec(text)[0],
    /^To:.*$/m.exec(text)[0],
    `Route: ${routes.join(', ')}`,
    `Call-ID: ${n}-4242@${LB}`,
    `CSeq: ${method === 'ACK' ? 1 : 2} ${method}`,
    `Contact: <sip:sipp@${LB}:${UAC};transport=UDP>`,
    'Max-Forwards: 70',
    'Content-Length: 0',
    '',
    '',
  ]);
}

/** Records the datagrams of `count` calls (who sends which bytes to the forwarder) by running them once. */
function record(count) {
  const { fwd, ext, int, algorithm, flows } = setup();
  const deliver = (from, buf) => {
    const r = parseDatagram(buf);
    if (r.kind !== 'message') throw new Error(`bench message does not parse: ${r.error ?? r.kind}`);
    fwd.onMessage(r.message, flows[from]);
  };
  const script = [];
  for (let n = 1; n <= count; n++) {
    const step = (from, buf, out) => {
      script.push([from, buf]);
      out.last = undefined;
      deliver(from, buf);
      if (!out.last) throw new Error(`call ${n}: nothing forwarded for ${buf.toString('latin1').split('\r\n')[0]}`);
      return out.last;
    };
    const inv = step('uac', invite(n), int);
    const ringing = answer(inv, 180, n, false);
    step('uas', ringing, ext);
    const ok = step('uas', answer(inv, 200, n, true), ext);
    const ackOut = step('uac', inDialog('ACK', ok, n), int);
    if (!ackOut) throw new Error('ACK not forwarded');
    const byeOut = step('uac', inDialog('BYE', ok, n), int);
    step('uas', answer(byeOut, 200, n, false), ext);
  }
  algorithm.stop();
  return script;
}

function replay(script, calls) {
  const { fwd, ext, int, algorithm, flows } = setup();
  const perCall = script.length / calls;
  const t0 = process.cpuUsage();
  const w0 = process.hrtime.bigint();
  for (let i = 0; i < script.length; i++) {
    const [from, buf] = script[i];
    const r = parseDatagram(buf);
    if (r.kind === 'message') fwd.onMessage(r.message, new Flow(flows[from].local, flows[from].remotePort));
  }
  const cpu = process.cpuUsage(t0);
  const wall = Number(process.hrtime.bigint() - w0) / 1e6;
  algorithm.stop();
  if (ext.sends + int.sends !== script.length + script.length / perCall) {
    throw new Error(`expected ${script.length} forwards and ${calls} 100 Trying, got ${ext.sends + int.sends} sends`);
  }
  return { cpuMsPerCall: (cpu.user + cpu.system) / 1000 / calls, wallMsPerCall: wall / calls };
}

// Distinct Call-IDs for every replayed call: record them all (recording is not measured).
const script = record(CALLS);
const results = [];
for (let r = 1; r <= ROUNDS; r++) {
  const res = replay(script, CALLS);
  results.push(res);
  console.log(`round ${r}: ${(res.cpuMsPerCall * 1000).toFixed(1)} µs CPU per call (${(res.wallMsPerCall * 1000).toFixed(1)} µs wall), ${script.length / CALLS} messages per call`);
}
const sorted = results.map((r) => r.cpuMsPerCall).sort((a, b) => a - b);
console.log(`median ${(sorted[sorted.length >> 1] * 1000).toFixed(1)} µs CPU per call over ${ROUNDS} rounds of ${CALLS} calls (JavaScript only: no sockets)`);
