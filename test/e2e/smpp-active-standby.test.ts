// toProviderAlgorithmClass=active-standby in regular mode: every ESME binds to the first SMSC while it
// accepts binds; when it dies, the ESMEs rebind to the next one after reconnectPeriod.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { SmscSimulator, bindEsme, closeSession, request, smppDaemonProperties, type SmppPdu, type SmppSession } from '../helpers/smpp.js';

let daemon: Daemon;
let smppPort: number;
const sims: SmscSimulator[] = [];
const sessions: SmppSession[] = [];

beforeAll(async () => {
  for (const name of ['active', 'standby']) sims.push(await new SmscSimulator(name).listen());
  daemon = await startDaemon({
    properties: smppDaemonProperties({ muxMode: false,
      remoteServers: sims.map((s) => `127.0.0.1:${s.port}`).join(','),
      toProviderAlgorithmClass: 'org.mobicents.tools.smpp.multiplexer.ActiveStandbyAlgorithm',
      reconnectPeriod: 200,
      timeoutEnquire: 60000,
    }),
  });
  smppPort = daemon.port('smppPort');
});

afterAll(async () => {
  for (const s of sessions) await closeSession(s);
  await daemon?.stop();
  for (const s of sims) await s.kill().catch(() => undefined);
});

describe('SMPP regular mode, toProviderAlgorithmClass=active-standby', () => {
  it('binds every ESME to the first SMSC', async () => {
    for (let i = 0; i < 4; i++) {
      const { session, resp } = await bindEsme({ port: smppPort, systemId: `as${i}` });
      sessions.push(session);
      expect([resp.command_status, resp.system_id]).toEqual([0, 'active']);
    }
    expect(sims.map((s) => s.binds.length)).toEqual([4, 0]);
  });

  it('moves every ESME to the standby when the active SMSC dies', async () => {
    await sims[0]!.kill();
    for (const session of sessions) {
      let r: SmppPdu | undefined;
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        r = await request(session, 'submit_sm', { destination_addr: '1', short_message: 'failover' });
        if (r.command_status === 0) break;
        expect(r.command_status).toBe(0x08); // rebinding: turned back at once
        await new Promise((res) => setTimeout(res, 50));
      }
      expect(String(r?.message_id)).toMatch(/^standby-/);
    }
    expect(sims[1]!.binds.length).toBe(4);
  });
});
