#!/usr/bin/env node
// The benchmark's yardstick of what Node itself costs: a naive stateless SIP forwarder over UDP (regular
// expressions and strings, nothing clever). Requests get a Via and (INVITE) a Record-Route, our Route is popped,
// the node is chosen by a hash of the Call-ID; responses lose our Via and follow the next one.
//
//   node bench/sip/naive-forwarder.mjs <listen-port> <node-host:port>[,<node-host:port>...]

import { createSocket } from 'node:dgram';

const HOST = '127.0.0.1';
const port = Number(process.argv[2]);
const nodes = (process.argv[3] ?? '').split(',').filter(Boolean).map((s) => {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
});
if (!(port > 0) || nodes.length === 0) throw new Error('usage: naive-forwarder.mjs <port> <host:port>[,...]');

const me = `${HOST}:${port}`;
const ownRoute = new RegExp(`^Route:\\s*<sip:${me.replace(/\./g, '\\.')};lr>\\r\\n`, 'im');
const callIdRe = /^(?:Call-ID|i)\s*:\s*(\S+)/im;
const topViaRe = /^(?:Via|v)\s*:[^\r\n]*\r\n/im;
// Our Via: the first item of a comma list (keep "Via: " for the rest) or the whole line.
const ourViaRe = /^((?:Via|v)\s*:\s*)[^,\r\n]*,\s*|^(?:Via|v)\s*:[^,\r\n]*\r\n/im;
const viaAddrRe = /^(?:Via|v)\s*:\s*SIP\/2\.0\/UDP\s+([^;:\s]+)(?::(\d+))?([^\r\n]*)/im;

function hash(s) {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h >>> 0;
}

const socket = createSocket('udp4');
socket.on('message', (buf, rinfo) => {
  const text = buf.toString('latin1');
  if (text.startsWith('SIP/2.0 ')) {
    // A response: strip our Via, send to the next one (received/rport when present).
    const rest = text.replace(ourViaRe, '$1');
    const m = viaAddrRe.exec(rest);
    if (!m) return;
    const received = /;received=([^;\s]+)/.exec(m[3]);
    const rport = /;rport=(\d+)/.exec(m[3]);
    socket.send(Buffer.from(rest, 'latin1'), Number(rport?.[1] ?? m[2] ?? 5060), received?.[1] ?? m[1]);
    return;
  }
  const callId = callIdRe.exec(text)?.[1] ?? '';
  const node = nodes[hash(callId) % nodes.length];
  const fromNode = nodes.some((n) => n.host === rinfo.address && n.port === rinfo.port);
  const branch = `z9hG4bKnaive${hash(`${callId}|${/branch=([^;\s]+)/.exec(text)?.[1] ?? ''}`).toString(16)}`;
  let out = text.replace(ownRoute, '');
  out = out.replace(topViaRe, (v) => `Via: SIP/2.0/UDP ${me};branch=${branch}\r\n${v}`);
  if (text.startsWith('INVITE ')) out = out.replace(/\r\n/, `\r\nRecord-Route: <sip:${me};lr>\r\n`);
  let target = node;
  if (fromNode) {
    // A request from a node goes where its Request-URI says.
    const ruri = /^\S+ sip:(?:[^@\s]*@)?([^;:\s>]+)(?::(\d+))?/.exec(text);
    if (!ruri) return;
    target = { host: ruri[1], port: Number(ruri[2] ?? 5060) };
  }
  socket.send(Buffer.from(out, 'latin1'), target.port, target.host);
});
socket.bind(port, HOST, () => {
  socket.setRecvBufferSize(4 * 1024 * 1024);
  socket.setSendBufferSize(4 * 1024 * 1024);
});
process.on('SIGTERM', () => socket.close(() => process.exit(0)));
