// SIGTERM with an SMPP request in flight: the broker stops accepting ESMEs, waits for the answer, passes it on,
// unbinds the ESME and the SMSC, and the daemon exits 0. In regular and in mux mode.

import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../helpers/daemon.js';
import { SmscSimulator, bindEsme, closeSession, request, smppDaemonProperties, type SmppPdu } from '../helpers/smpp.js';
import { waitUntil } from '../helpers/wait.js';

/** Whether a TCP connection to the port is refused (the listener is closed). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe.each([false, true])('SMPP shutdown, muxMode=%s', (muxMode) => {
  it('answers the submit_sm in flight when SIGTERM arrives, unbinds both sides, and exits 0', async () => {
    const smsc = await new SmscSimulator('smscA').listen();
    // timeoutResponse is longer than the test waits: the answer comes from the SMSC, not from the broker's timer.
    const daemon = await startDaemon({ properties: smppDaemonProperties({ muxMode, remoteServers: `127.0.0.1:${smsc.port}`, timeoutResponse: 8000 }) });
    const port = daemon.port('smppPort');
    const { session, resp } = await bindEsme({ port, systemId: 'shop' });
    try {
      expect(resp.command_status).toBe(0);
      let unbinds = 0;
      session.on('unbind', (pdu: SmppPdu) => {
        unbinds++;
        session.send(pdu.response());
      });
      smsc.silent = true;
      const answer = request(session, 'submit_sm', { destination_addr: '1', short_message: 'in flight' }, 15_000);
      await waitUntil(() => smsc.submits.length === 1, 'the submit_sm held at the SMSC');

      const exit = daemon.stop('SIGTERM');
      await daemon.waitForLog(/waiting for the answers to 1 request/);
      expect(await refused(port)).toBe(true);
      expect(daemon.child.exitCode).toBeNull();

      smsc.releaseHeld();
      const r = await answer;
      expect([r.command_status, r.message_id]).toEqual([0, 'smscA-1']);
      expect(await exit).toBe(0);
      await waitUntil(() => unbinds === 1 && smsc.unbinds === 1, 'the unbinds at the ESME and the SMSC');
    } finally {
      await closeSession(session);
      await daemon.stop();
      await smsc.kill();
    }
  }, 30_000);
});
