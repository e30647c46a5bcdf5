// SMPP mux mode with SMSCs that come and go at run time: a node advertising an smppPort in its JSON heartbeat is
// bound by the running user space; when it leaves, its bind is drained (requests in flight answered) and unbound.
// remoteServers changed by a reload (SIGHUP) is followed the same way.
// Garbage from one SMSC closes only that bind. The daemon as a child process; ESMEs on the smpp npm package.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { propertiesText, startDaemon, type Daemon } from '../helpers/daemon.js';
import { RawSmsc, SmscSimulator, bindEsme, closeSession, request, smppDaemonProperties, type SmppPdu, type SmppSession } from '../helpers/smpp.js';
import { waitUntil } from '../helpers/wait.js';

let daemon: Daemon;
let smppPort: number;
let heartbeatPort: number;
let statPort: number;
let fixed: SmscSimulator;
let node: SmscSimulator;
let raw: RawSmsc;
let properties: Record<string, string | number | boolean>;
const sessions: SmppSession[] = [];

async function heartbeat(body: unknown): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${heartbeatPort}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await res.arrayBuffer();
  return res.status;
}

type Upstreams = { smsc: string; state: string; draining: boolean }[];
async function upstreams(): Promise<Upstreams> {
  const res = await fetch(`http://127.0.0.1:${statPort}/lbinfo`);
  const info = (await res.json()) as { 'SMPP sessions': { userSpaces: { upstreams: Upstreams }[] } };
  return info['SMPP sessions'].userSpaces[0]?.upstreams ?? [];
}

const submit = (s: SmppSession, text: string): Promise<SmppPdu> => request(s, 'submit_sm', { destination_addr: '1', short_message: text }, 10_000);

beforeAll(async () => {
  fixed = await new SmscSimulator('fixed').listen();
  node = await new SmscSimulator('node').listen();
  raw = await new RawSmsc().listen();
  properties = smppDaemonProperties({
    muxMode: true,
    remoteServers: `127.0.0.1:${fixed.port},127.0.0.1:${raw.port}`,
    nodeTimeout: 60_000,
    timeoutResponse: 5000,
    timeoutEnquire: 60_000,
    reconnectPeriod: 200,
  });
  daemon = await startDaemon({ properties });
  smppPort = daemon.port('smppPort');
  heartbeatPort = daemon.port('heartbeatPort');
  statPort = daemon.port('statisticPort');
  for (let i = 0; i < 3; i++) {
    const { session, resp } = await bindEsme({ port: smppPort, systemId: 'dyn' });
    expect(resp.command_status).toBe(0);
    sessions.push(session);
  }
});

afterAll(async () => {
  for (const s of sessions) await closeSession(s);
  await daemon?.stop();
  await fixed.kill().catch(() => undefined);
  await node.kill().catch(() => undefined);
  await raw.close().catch(() => undefined);
});

describe('SMPP mux mode, SMSCs at run time', () => {
  it('closes only the SMSC bind that sends a lying command_length, and rebinds it', async () => {
    await waitUntil(async () => (await upstreams()).every((u) => u.state === 'BOUND'));
    const bindsBefore = raw.binds;
    const garbage = Buffer.alloc(16);
    garbage.writeUInt32BE(0xffffffff, 0);
    raw.sendToAll(garbage);
    // The ESMEs keep being served meanwhile (by the other SMSC), and the bind comes back.
    for (const s of sessions) expect((await submit(s, 'during')).command_status).toBe(0);
    await waitUntil(() => raw.binds === bindsBefore + 1);
    await waitUntil(async () => (await upstreams()).every((u) => u.state === 'BOUND'));
    expect(sessions.every((s) => !s.socket.destroyed)).toBe(true);
  });

  it('binds to a node that starts advertising an smppPort', async () => {
    expect(await heartbeat({ start: { hostName: 'smsc-node', ip: '127.0.0.1', udpPort: 5070, smppPort: node.port, version: '0', sessionId: 'smsc-node-1' } })).toBe(200);
    await waitUntil(() => node.binds.length === 1);
    expect(node.binds).toEqual(['dyn']);
    await waitUntil(async () => (await upstreams()).length === 3 && (await upstreams()).every((u) => u.state === 'BOUND'));
    // Round robin now reaches it.
    const spread = await Promise.all(Array.from({ length: 9 }, (_, i) => submit(sessions[i % 3]!, `spread-${i}`)));
    expect(spread.every((r) => r.command_status === 0)).toBe(true);
    expect(spread.filter((r) => String(r.message_id).startsWith('node-')).length).toBeGreaterThan(0);
  });

  it('drains a node that leaves: its requests in flight are answered, then its bind is unbound', async () => {
    node.silent = true; // hold its submit_sm unanswered while it leaves
    const inFlight: Promise<SmppPdu>[] = [];
    for (let i = 0; i < 6; i++) inFlight.push(submit(sessions[i % 3]!, `inflight-${i}`));
    await waitUntil(() => node.submits.some((s) => s.shortMessage.startsWith('inflight-')));
    expect(await heartbeat({ stop: { sessionId: 'smsc-node-1' } })).toBe(200);
    await waitUntil(async () => (await upstreams()).some((u) => u.draining));
    // New requests no longer go to it.
    const after = await Promise.all(sessions.map((s, i) => submit(s, `after-${i}`)));
    expect(after.map((r) => r.command_status)).toEqual([0, 0, 0]);
    expect(after.some((r) => String(r.message_id).startsWith('node-'))).toBe(false);
    expect(node.unbinds).toBe(0);
    // It answers what it holds (the package sends the responses in order): each reaches its ESME, then the unbind.
    node.silent = false;
    node.releaseHeld();
    const answered = await Promise.all(inFlight);
    expect(answered.every((r) => r.command_status === 0)).toBe(true);
    await waitUntil(() => node.unbinds === 1);
    await waitUntil(async () => (await upstreams()).length === 2);
  });

  it('follows remoteServers on a reload (SIGHUP): binds the new SMSC, drains and unbinds the removed one, and a submit_sm stream across it loses nothing', async () => {
    const added = await new SmscSimulator('added').listen();
    try {
      const unbindsBefore = raw.received.filter((p) => p.readUInt32BE(4) === 0x00000006).length;
      // Every ESME streams submit_sm (one outstanding each) from before the reload until the new SMSC serves.
      let streaming = true;
      const answers: SmppPdu[] = [];
      const streams = sessions.map(async (s, i) => {
        for (let n = 0; streaming; n++) answers.push(await submit(s, `stream-${i}-${n}`));
      });
      await waitUntil(() => answers.length >= 30);
      writeFileSync(daemon.configPath, propertiesText({ ...properties, remoteServers: `127.0.0.1:${fixed.port},127.0.0.1:${added.port}` }));
      daemon.child.kill('SIGHUP');
      await daemon.waitForLog((l) => String(l.msg).startsWith('Configuration reloaded'));
      await waitUntil(() => added.binds.length === 1);
      expect(added.binds).toEqual(['dyn']);
      await waitUntil(() => raw.received.filter((p) => p.readUInt32BE(4) === 0x00000006).length === unbindsBefore + 1);
      await waitUntil(async () => (await upstreams()).map((u) => u.smsc).sort().join() === [`127.0.0.1:${fixed.port}`, `127.0.0.1:${added.port}`].sort().join());
      const atReload = answers.length;
      await waitUntil(() => answers.some((r, k) => k >= atReload && String(r.message_id).startsWith('added-')));
      streaming = false;
      await Promise.all(streams);
      // Nothing failed across the change: every submit_sm of the stream got a successful answer.
      expect(answers.filter((r) => r.command_status !== 0).map((r) => r.command_status)).toEqual([]);
      const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => submit(sessions[i % 3]!, `reloaded-${i}`)));
      expect(rs.every((r) => r.command_status === 0)).toBe(true);
      expect(rs.some((r) => String(r.message_id).startsWith('added-'))).toBe(true);
    } finally {
      await added.kill();
    }
  });
});
