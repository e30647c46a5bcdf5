// The SMPP service's hot reload (Service.reload): a new remoteServers list reaches the running broker, which in mux
// mode binds the user spaces to the added SMSC and drains the removed one. The service in-process (the reload
// orchestrator is another module's), with an ESME and SMSCs on local sockets.

import { afterEach, describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import type { Service, ServiceContext } from '../../src/service.js';
import { createSmppService } from '../../src/smpp/index.js';
import { Cmd, commandId, commandStatus } from '../../src/smpp/pdu.js';
import { BoundListeners } from '../../src/bound-listeners.js';
import { RawEsme } from '../helpers/smpp.js';
import { TinySmsc, bindPdu } from './smpp-fixtures.js';
import { waitUntil } from '../helpers/wait.js';

const smscs: TinySmsc[] = [];
let service: Service | undefined;

afterEach(async () => {
  await service?.stop();
  service = undefined;
  for (const s of smscs.splice(0)) await s.close();
});

/** The port the service bound for smppPort=0. */
const smppPortOf = (ctx: ServiceContext): number => ctx.listeners!.all().find((l) => l.key === 'smppPort')!.port;

const configWith = (smppPort: number, servers: TinySmsc[], extra = ''): ReturnType<typeof loadConfigText>['config'] =>
  loadConfigText(`host=127.0.0.1\nsmppPort=${smppPort}\nremoteServers=${servers.map((s) => `127.0.0.1:${s.port}`).join(',')}\nreconnectPeriod=50\n${extra}`, 'lb.properties').config;

describe('SMPP service reload', () => {
  it('binds to an added SMSC and drains a removed one (mux mode)', async () => {
    const [a, b] = [await new TinySmsc().listen(), await new TinySmsc().listen()];
    smscs.push(a, b);
    const ctx = { config: configWith(0, [a]), stats: { addProtocol: () => undefined }, log: silentLogger(), listeners: new BoundListeners(undefined) } as unknown as ServiceContext;
    service = createSmppService(ctx);
    await service.start();
    const port = smppPortOf(ctx);
    const esme = new RawEsme(port);
    await esme.connected();
    esme.write(bindPdu(1, 'shop', 'pw'));
    await waitUntil(() => esme.pdus.length === 1);
    expect([commandId(esme.pdus[0]!), commandStatus(esme.pdus[0]!)]).toEqual([Cmd.bind_transceiver_resp, 0]);
    expect([a.binds, b.binds]).toEqual([1, 0]);

    await service.reload!(configWith(port, [b]));
    await waitUntil(() => b.binds === 1 && a.unbinds === 1);
    // The ESME stayed bound throughout.
    expect(esme.closed).toBe(false);
    esme.destroy();
  });

  it('uses the new list for the next ESMEs in regular mode', async () => {
    const [a, b] = [await new TinySmsc().listen(), await new TinySmsc().listen()];
    smscs.push(a, b);
    const ctx = { config: configWith(0, [a], 'muxMode=false\n'), stats: { addProtocol: () => undefined }, log: silentLogger(), listeners: new BoundListeners(undefined) } as unknown as ServiceContext;
    service = createSmppService(ctx);
    await service.start();
    const port = smppPortOf(ctx);
    await service.reload!(configWith(port, [b], 'muxMode=false\n'));
    const esme = new RawEsme(port);
    await esme.connected();
    esme.write(bindPdu(1, 'other', 'pw'));
    await waitUntil(() => esme.pdus.length === 1);
    expect([a.binds, b.binds]).toEqual([0, 1]);
    esme.destroy();
  });
});
