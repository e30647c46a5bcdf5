// Mux mode's user-space state machine (BINDING → BOUND ↔ REBINDING → UNBINDING → CLOSED) through its lobby:
// ESMEs on recording sockets, SMSCs as tiny servers on local sockets.

import { afterEach, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { MuxLobby } from '../../src/smpp/mux/lobby.js';
import { SmscList } from '../../src/smpp/server-list.js';
import { Cmd, PduFramer, bindRespSystemId, commandId, commandStatus, encodeBind, encodePdu, sequenceNumber } from '../../src/smpp/pdu.js';
import type { HostPort } from '../../src/config/types.js';
import { FakeSocket, TinySmsc, bindPdu, smppContext, submitPdu } from './smpp-fixtures.js';
import { waitUntil } from '../helpers/wait.js';

const smscs: TinySmsc[] = [];
let lobby: MuxLobby | undefined;

afterEach(async () => {
  lobby?.shutdown();
  lobby = undefined;
  for (const s of smscs.splice(0)) await s.close();
});

async function start(count: number, config: Parameters<typeof smppContext>[1] = {}): Promise<{ lobby: MuxLobby; list: SmscList; servers: HostPort[] }> {
  for (let i = 0; i < count; i++) smscs.push(await new TinySmsc().listen());
  const servers = smscs.map((s) => ({ host: '127.0.0.1', port: s.port }));
  const list = new SmscList(servers);
  const ctx = smppContext({ idleSupervision: true, countSessionBytes: false }, { muxMode: true, reconnectPeriodMs: 50, ...config });
  lobby = new MuxLobby(ctx, list);
  list.onChange = () => lobby!.serversChanged();
  return { lobby, list, servers };
}

/** An ESME on a recording socket; `pdus` are the PDUs the broker wrote to it, decoded. */
function esme(l: MuxLobby): { socket: FakeSocket; pdus: () => Buffer[] } {
  const socket = new FakeSocket();
  l.accept(socket as unknown as Socket, Date.now());
  return {
    socket,
    pdus: () => {
      const out: Buffer[] = [];
      const framer = new PduFramer(65536, (p) => out.push(Buffer.from(p)), () => undefined);
      for (const w of socket.written) framer.push(w);
      return out;
    },
  };
}

const statusOf = (pdus: Buffer[], seq: number): number | undefined => {
  const p = pdus.find((x) => sequenceNumber(x) === seq);
  return p === undefined ? undefined : commandStatus(p);
};

describe('mux user space', () => {
  it('binds once per SMSC for the first ESME; ESMEs arriving meanwhile wait, then all get "loadbalancer"', async () => {
    const { lobby } = await start(2);
    const a = esme(lobby);
    const b = esme(lobby);
    a.socket.push(bindPdu(1, 'shop', 'pw'));
    b.socket.push(bindPdu(7, 'shop', 'pw'));
    // b waits: nothing answered before an SMSC bound.
    expect(b.pdus()).toHaveLength(0);
    await waitUntil(() => a.pdus().length === 1 && b.pdus().length === 1);
    for (const [e, seq] of [[a, 1], [b, 7]] as const) {
      const resp = e.pdus()[0]!;
      expect([commandId(resp), commandStatus(resp), sequenceNumber(resp), bindRespSystemId(resp)]).toEqual([Cmd.bind_transceiver_resp, 0, seq, 'loadbalancer']);
    }
    await waitUntil(() => smscs.every((s) => s.binds === 1));
    expect(lobby.info()).toMatchObject([{ systemId: 'shop', state: 'BOUND' }]);
  });

  it('answers a later ESME with another password 0x0E, without an SMSC bind', async () => {
    const { lobby } = await start(1);
    const a = esme(lobby);
    a.socket.push(bindPdu(1, 'shop', 'pw'));
    await waitUntil(() => a.pdus().length === 1);
    const c = esme(lobby);
    c.socket.push(bindPdu(3, 'shop', 'other'));
    expect(statusOf(c.pdus(), 3)).toBe(0x0e);
    expect(c.socket.ended).toBe(true);
    expect(smscs[0]!.binds).toBe(1);
  });

  it('relays the SMSCs\' 0x0E to every waiting ESME when no SMSC is left, and closes the space', async () => {
    const { lobby } = await start(2);
    for (const s of smscs) s.bindStatus = 0x0e;
    const a = esme(lobby);
    const b = esme(lobby);
    a.socket.push(bindPdu(1, 'shop', 'bad'));
    b.socket.push(bindPdu(2, 'shop', 'bad'));
    await waitUntil(() => a.pdus().length === 1 && b.pdus().length === 1);
    expect([statusOf(a.pdus(), 1), statusOf(b.pdus(), 2)]).toEqual([0x0e, 0x0e]);
    await waitUntil(() => lobby.spaceCount === 0);
  });

  it('answers waiting ESMEs 0x08 when every SMSC failed once for another reason', async () => {
    const { lobby } = await start(1);
    smscs[0]!.bindStatus = 0x08; // retried every reconnectPeriod, but the waiting ESMEs are answered
    const a = esme(lobby);
    a.socket.push(bindPdu(1, 'shop', 'pw'));
    await waitUntil(() => a.pdus().length === 1);
    expect(statusOf(a.pdus(), 1)).toBe(0x08);
    await waitUntil(() => lobby.spaceCount === 0);
  });

  it('stays BOUND while one SMSC is left, goes REBINDING (0x08) when the last is lost, and BOUND again after the rebind', async () => {
    const { lobby } = await start(2);
    const a = esme(lobby);
    a.socket.push(bindPdu(1, 'shop', 'pw'));
    await waitUntil(() => (lobby.info()[0]!.upstreams as { state: string }[]).every((u) => u.state === 'BOUND'));
    // Rebind attempts are refused (0x08: retried) until the test lets them in.
    for (const s of smscs) s.bindStatus = 0x08;
    for (const s of smscs[0]!.sockets) s.destroy();
    await waitUntil(() => (lobby.info()[0]!.upstreams as { state: string }[])[0]!.state !== 'BOUND');
    expect(lobby.info()[0]!.state).toBe('BOUND');
    a.socket.push(submitPdu(2));
    await waitUntil(() => smscs[1]!.received.length === 1); // the other SMSC took it
    for (const s of smscs[1]!.sockets) s.destroy();
    await waitUntil(() => lobby.info()[0]!.state === 'REBINDING');
    a.socket.push(submitPdu(3));
    expect(statusOf(a.pdus(), 3)).toBe(0x08);
    smscs[0]!.bindStatus = 0;
    await waitUntil(() => lobby.info()[0]!.state === 'BOUND');
    a.socket.push(submitPdu(4));
    await waitUntil(() => smscs[0]!.received.length === 1);
  });

  it('turns requests back with 0x08 while REBINDING and keeps the ESME', async () => {
    const { lobby } = await start(1, { reconnectPeriodMs: 60_000 });
    const a = esme(lobby);
    a.socket.push(bindPdu(1, 'shop', 'pw'));
    await waitUntil(() => smscs[0]!.binds === 1 && a.pdus().length === 1);
    for (const s of smscs[0]!.sockets) s.destroy();
    await waitUntil(() => lobby.info()[0]!.state === 'REBINDING');
    a.socket.push(submitPdu(5), encodePdu(Cmd.enquire_link, 0, 6));
    expect([statusOf(a.pdus(), 5), statusOf(a.pdus(), 6)]).toEqual([0x08, 0]);
    expect(a.socket.ended).toBe(false);
  });

  it('answers unbind locally; the last ESME\'s unbind unbinds the SMSCs', async () => {
    const { lobby } = await start(2);
    const a = esme(lobby);
    const b = esme(lobby);
    a.socket.push(bindPdu(1, 'shop', 'pw'));
    b.socket.push(bindPdu(1, 'shop', 'pw'));
    await waitUntil(() => a.pdus().length === 1 && b.pdus().length === 1);
    a.socket.push(encodePdu(Cmd.unbind, 0, 2));
    expect(commandId(a.pdus()[1]!)).toBe(Cmd.unbind_resp);
    expect(smscs.map((s) => s.unbinds)).toEqual([0, 0]);
    b.socket.push(encodePdu(Cmd.unbind, 0, 2));
    expect(commandId(b.pdus()[1]!)).toBe(Cmd.unbind_resp);
    await waitUntil(() => smscs.every((s) => s.unbinds === 1));
    await waitUntil(() => {
      lobby.sweep(Date.now());
      return lobby.spaceCount === 0;
    });
  });

  it('binds to an SMSC added at run time and drains a removed one without failing a request', async () => {
    const { lobby, list } = await start(1);
    const a = esme(lobby);
    a.socket.push(bindPdu(1, 'shop', 'pw'));
    await waitUntil(() => a.pdus().length === 1);
    a.socket.push(submitPdu(2)); // in flight at the old SMSC, not answered yet
    await waitUntil(() => smscs[0]!.received.length === 1);
    const [old] = smscs;
    const added = await new TinySmsc().listen();
    smscs.push(added);
    added.holdBinds = true; // the replacement is still binding
    list.setRemoteServers([{ host: '127.0.0.1', port: added.port }]);
    // Meanwhile the removed SMSC keeps serving: nothing is turned back.
    a.socket.push(submitPdu(3));
    await waitUntil(() => old!.received.length === 2);
    expect(a.pdus().filter((p) => commandId(p) === Cmd.submit_sm_resp)).toHaveLength(0);
    added.holdBinds = false;
    await waitUntil(() => (lobby.info()[0]!.upstreams as { draining: boolean }[]).some((u) => u.draining) && added.binds >= 1);
    await waitUntil(() => (lobby.info()[0]!.upstreams as { state: string; draining: boolean }[]).some((u) => !u.draining && u.state === 'BOUND'));
    expect(old!.unbinds).toBe(0); // draining: its requests are still in flight
    // New requests go to the new SMSC only.
    a.socket.push(submitPdu(4));
    await waitUntil(() => added.received.length === 1);
    // The old SMSC answers: the ESME gets both, then the old bind is unbound.
    for (const p of old!.received) old!.send(encodePdu(Cmd.submit_sm_resp, 0, sequenceNumber(p), Buffer.from('old\0')));
    await waitUntil(() => statusOf(a.pdus(), 2) === 0 && statusOf(a.pdus(), 3) === 0);
    await waitUntil(() => old!.unbinds === 1);
    expect(lobby.info()[0]!.state).toBe('BOUND');
    // Nothing was turned back: no response other than the two answers.
    expect(a.pdus().filter((p) => commandStatus(p) !== 0)).toHaveLength(0);
  });

  it('answers an SMSC\'s unbind, keeps the ESMEs on the other binds, and rebinds that SMSC after reconnectPeriod', async () => {
    const { lobby } = await start(2);
    const a = esme(lobby);
    a.socket.push(bindPdu(1, 'shop', 'pw'));
    await waitUntil(() => (lobby.info()[0]!.upstreams as { state: string }[]).every((u) => u.state === 'BOUND'));
    smscs[0]!.send(encodePdu(Cmd.unbind, 0, 77));
    await waitUntil(() => smscs[0]!.received.some((p) => commandId(p) === Cmd.unbind_resp && sequenceNumber(p) === 77));
    await waitUntil(() => smscs[0]!.binds === 2);
    expect(lobby.info()[0]!.state).toBe('BOUND');
    expect(a.socket.ended).toBe(false);
  });

  it('refuses submits from a receiver (0x04) and delivers only to ESMEs that can receive, the response back with the SMSC\'s number', async () => {
    const { lobby } = await start(1);
    const bind = (commandId: number, seq: number): Buffer =>
      encodeBind({ commandId, systemId: 'shop', password: 'pw', systemType: '', interfaceVersion: 0x34, addrTon: 0, addrNpi: 0, addressRange: '' }, seq);
    const tx = esme(lobby);
    const rx = esme(lobby);
    tx.socket.push(bind(Cmd.bind_transmitter, 1));
    rx.socket.push(bind(Cmd.bind_receiver, 1));
    await waitUntil(() => tx.pdus().length === 1 && rx.pdus().length === 1);
    expect([commandId(tx.pdus()[0]!), commandId(rx.pdus()[0]!)]).toEqual([Cmd.bind_transmitter_resp, Cmd.bind_receiver_resp]);
    rx.socket.push(submitPdu(2));
    expect(statusOf(rx.pdus(), 2)).toBe(0x04);
    const deliver = (seq: number): Buffer => encodePdu(Cmd.deliver_sm, 0, seq, Buffer.from('\0\0\0', 'latin1'));
    smscs[0]!.send(deliver(500));
    smscs[0]!.send(deliver(501));
    await waitUntil(() => rx.pdus().filter((p) => commandId(p) === Cmd.deliver_sm).length === 2);
    expect(tx.pdus().some((p) => commandId(p) === Cmd.deliver_sm)).toBe(false);
    const [first] = rx.pdus().filter((p) => commandId(p) === Cmd.deliver_sm);
    rx.socket.push(encodePdu(Cmd.deliver_sm_resp, 0, sequenceNumber(first!), Buffer.from('\0')));
    await waitUntil(() => smscs[0]!.received.some((p) => commandId(p) === Cmd.deliver_sm_resp));
    expect(sequenceNumber(smscs[0]!.received.find((p) => commandId(p) === Cmd.deliver_sm_resp)!)).toBe(500);
  });

  it('answers the waiting ESMEs 0x08 when every SMSC is removed before one bound', async () => {
    const { lobby, list } = await start(1);
    smscs[0]!.holdBinds = true; // the first bind is still pending when the list empties
    const a = esme(lobby);
    a.socket.push(bindPdu(1, 'shop', 'pw'));
    await waitUntil(() => smscs[0]!.binds === 1);
    list.setRemoteServers([]);
    await waitUntil(() => a.pdus().length === 1);
    expect(statusOf(a.pdus(), 1)).toBe(0x08);
  });

  it('active-standby sends every request to the first SMSC while it is bound, else to the next, and back', async () => {
    const { lobby } = await start(2, { toProvider: 'active-standby' });
    const a = esme(lobby);
    a.socket.push(bindPdu(1, 'shop', 'pw'));
    await waitUntil(() => (lobby.info()[0]!.upstreams as { state: string }[]).every((u) => u.state === 'BOUND'));
    a.socket.push(submitPdu(2), submitPdu(3), submitPdu(4));
    await waitUntil(() => smscs[0]!.received.length === 3);
    expect(smscs[1]!.received).toHaveLength(0);
    smscs[0]!.holdBinds = true;
    for (const s of smscs[0]!.sockets) s.destroy();
    await waitUntil(() => (lobby.info()[0]!.upstreams as { state: string }[])[0]!.state !== 'BOUND');
    a.socket.push(submitPdu(5));
    await waitUntil(() => smscs[1]!.received.length === 1);
    smscs[0]!.holdBinds = false;
    await waitUntil(() => (lobby.info()[0]!.upstreams as { state: string }[])[0]!.state === 'BOUND');
    a.socket.push(submitPdu(6));
    await waitUntil(() => smscs[0]!.received.length === 4);
    expect(smscs[1]!.received).toHaveLength(1);
  });

  it('probes an idle SMSC bind with enquire_link and rebinds it after 3× the check timeout of silence', async () => {
    const { lobby } = await start(1, { timeoutEnquireMs: 1000, timeoutConnectionCheckServerSideMs: 300, timeoutConnectionCheckClientSideMs: 60_000 });
    const a = esme(lobby);
    a.socket.push(bindPdu(1, 'shop', 'pw'));
    await waitUntil(() => lobby.info()[0]!.state === 'BOUND');
    const smsc = smscs[0]!;
    smsc.mute = true;
    const t0 = Date.now();
    // An enquire_link sent goes into the bind's in-flight table at once: nothing there means none was sent.
    const inflight = (): number => (lobby.info()[0]!.upstreams as { inflight: number }[])[0]!.inflight;
    lobby.sweep(t0 + 500);
    expect(inflight()).toBe(0); // not idle long enough
    lobby.sweep(t0 + 1100);
    expect(inflight()).toBe(1);
    await waitUntil(() => smsc.enquires === 1);
    lobby.sweep(t0 + 1100 + 3 * 300 - 1);
    expect(lobby.info()[0]!.state).toBe('BOUND');
    lobby.sweep(t0 + 1100 + 3 * 300);
    expect(lobby.info()[0]!.state).toBe('REBINDING');
    smsc.mute = false;
    await waitUntil(() => smsc.binds === 2 && lobby.info()[0]!.state === 'BOUND');
    expect(a.socket.ended).toBe(false);
  });

  it('gives an ESME that arrives while the last one\'s space is unbinding a new space and a new SMSC bind', async () => {
    const { lobby } = await start(1);
    const a = esme(lobby);
    a.socket.push(bindPdu(1, 'shop', 'pw'));
    await waitUntil(() => a.pdus().length === 1);
    a.socket.push(encodePdu(Cmd.unbind, 0, 2)); // the last ESME: the space unbinds its SMSC
    const b = esme(lobby);
    b.socket.push(bindPdu(1, 'shop', 'new-password'));
    await waitUntil(() => b.pdus().length === 1);
    expect(statusOf(b.pdus(), 1)).toBe(0);
    expect(smscs[0]!.binds).toBe(2);
    await waitUntil(() => smscs[0]!.unbinds === 1);
  });
});
