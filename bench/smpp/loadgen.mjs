// Benchmark ESMEs: <binds> connections, each keeping <window> submit_sm outstanding for <seconds>, after a
// warm-up. Prints one JSON line: submits/s (responses counted) and latency p50/p99 in ms.
// Usage: node loadgen.mjs <port> <binds> <window> <seconds> [warmupSeconds] [systemId]
// With systemId every bind uses it (mux mode: the ESMEs share one bind per SMSC); else each is bench<i>.

import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { framer, pdu, bindBody, submitBody, BIND_TRX, SUBMIT_SM, RESP } from './framer.mjs';

const [port, binds, windowSize, seconds, warmup = 1] = process.argv.slice(2, 7).map(Number);
const sharedSystemId = process.argv[7];
const template = pdu(SUBMIT_SM, 0, 0, submitBody());
const T = template.length;
let measuring = false;
let stopped = false;
let count = 0;
let errors = 0;
const latencies = [];

function session(index) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.setNoDelay(true);
    const sentAt = new Map();
    let seq = 1;
    let bound = false;
    const sendSubmits = (n) => {
      if (stopped || n === 0) return;
      const out = Buffer.allocUnsafe(n * T);
      const now = performance.now();
      for (let i = 0; i < n; i++) {
        template.copy(out, i * T);
        const s = ++seq;
        out.writeUInt32BE(s, i * T + 12);
        sentAt.set(s, now);
      }
      socket.write(out);
    };
    const push = framer((buf, off) => {
      const id = buf.readUInt32BE(off + 4);
      const s = buf.readUInt32BE(off + 12);
      if (id === (BIND_TRX | RESP) >>> 0) {
        if (buf.readUInt32BE(off + 8) !== 0) return reject(new Error('bind refused'));
        bound = true;
        resolve(socket);
        sendSubmits(windowSize);
        return;
      }
      if (id === (SUBMIT_SM | RESP) >>> 0) {
        const t = sentAt.get(s);
        if (t === undefined) return;
        sentAt.delete(s);
        if (buf.readUInt32BE(off + 8) !== 0) errors++;
        if (measuring) {
          count++;
          latencies.push(performance.now() - t);
        }
        replies++;
      }
    });
    let replies = 0;
    socket.on('data', (chunk) => {
      replies = 0;
      push(chunk);
      sendSubmits(replies);
    });
    socket.on('error', (e) => (bound ? undefined : reject(e)));
    socket.on('connect', () => socket.write(pdu(BIND_TRX, 0, 1, bindBody(sharedSystemId ?? `bench${index}`))));
  });
}

const sockets = await Promise.all(Array.from({ length: binds }, (_, i) => session(i)));
await new Promise((r) => setTimeout(r, warmup * 1000));
measuring = true;
const start = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
measuring = false;
const elapsed = (performance.now() - start) / 1000;
stopped = true;
latencies.sort((a, b) => a - b);
const pct = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] : NaN);
console.log(JSON.stringify({ rate: count / elapsed, p50: pct(50), p99: pct(99), errors, count }));
for (const s of sockets) s.destroy();
process.exit(0);
