// What the SIP benchmark and the soak share: free ports for sipp and its control socket, and sipp's statistics.

import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

/** A port free for both TCP and UDP on `host`. */
export async function freePort(host = '127.0.0.1') {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, host, () => {
        const p = srv.address().port;
        srv.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, host, () => s.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

/** A UDP port free on every address: sipp binds its control socket on 0.0.0.0 and exits if it is taken. */
export async function freeControlPort() {
  const s = createSocket('udp4');
  await new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '0.0.0.0', resolve);
  });
  const port = s.address().port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** The last line of a sipp -trace_stat CSV as cumulative counters, or undefined before sipp wrote one. */
export function readSippStats(csvPath) {
  if (!existsSync(csvPath)) return undefined;
  const lines = readFileSync(csvPath, 'latin1').split('\n').filter((l) => l.trim());
  if (lines.length < 2) return undefined;
  const names = lines[0].split(';');
  const values = lines[lines.length - 1].split(';');
  const get = (k) => Number(values[names.indexOf(k)]);
  return { successful: get('SuccessfulCall(C)'), failed: get('FailedCall(C)'), retransmissions: get('Retransmissions(C)'), incoming: get('IncomingCall(C)') };
}
