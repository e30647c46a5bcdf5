// Benchmark SMSC: accepts any bind, answers enquire_link, unbind and submit_sm at once (one write per chunk).
// Usage: node smsc-sim.mjs <port>; prints "ready" when listening.

import net from 'node:net';
import { framer, pdu, BIND_TRX, SUBMIT_SM, ENQUIRE_LINK, UNBIND, RESP } from './framer.mjs';

const port = Number(process.argv[2]);
let messageId = 0;
const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => {});
  const out = [];
  const push = framer((buf, off) => {
    const id = buf.readUInt32BE(off + 4);
    const seq = buf.readUInt32BE(off + 12);
    if (id === SUBMIT_SM) out.push(pdu(SUBMIT_SM | RESP, 0, seq, Buffer.from(`${(++messageId).toString(16)}\0`, 'latin1')));
    else if (id === BIND_TRX) out.push(pdu(BIND_TRX | RESP, 0, seq, Buffer.from('sim\0', 'latin1')));
    else if (id === ENQUIRE_LINK) out.push(pdu(ENQUIRE_LINK | RESP, 0, seq));
    else if (id === UNBIND) out.push(pdu(UNBIND | RESP, 0, seq));
  });
  socket.on('data', (chunk) => {
    push(chunk);
    if (out.length > 0) socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
    out.length = 0;
  });
});
server.listen(port, '127.0.0.1', () => console.log('ready'));
process.on('SIGTERM', () => process.exit(0));
