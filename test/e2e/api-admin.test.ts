// The original's admin endpoints on statisticPort, against the daemon as a child process with sipp nodes:
// /lbnoderegex pins calls to a node (and refuses bad input without changing anything), /lbloglevel,
// /lbstop (401 with wrong credentials, a graceful stop with the right ones), 404 with the list of endpoints.

import { describe, it, expect, afterEach } from 'vitest';
import { createSocket } from 'node:dgram';
import { heartbeatRequest } from '../helpers/sip-heartbeat.js';
import { HOST, runCalls, sentInvites, startBalancer, startNode, activeNodePorts, type Balancer, type TestNode } from './algorithm-harness.js';
import { waitUntil } from '../helpers/wait.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function balancer(extra: Record<string, string | number | boolean> = {}): Promise<Balancer> {
  const lb = await startBalancer(extra);
  cleanups.push(() => lb.stop());
  return lb;
}

async function node(lb: Balancer): Promise<TestNode> {
  const n = await startNode([lb]);
  cleanups.push(() => n.stop());
  return n;
}

async function api(lb: Balancer, path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://${HOST}:${lb.statisticPort}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text } };
}

async function pins(lb: Balancer): Promise<Record<string, unknown>[]> {
  return (await api(lb, '/lbinfo')).body['Regex pins'] as Record<string, unknown>[];
}

describe('/lbnoderegex', () => {
  it('pins the calls whose To user matches to one node (user-based), and unpins them', async () => {
    const lb = await balancer({ algorithmClass: 'org.mobicents.tools.sip.balancer.UserBasedAlgorithm' });
    const a = await node(lb);
    const b = await node(lb);
    await waitUntil(async () => (await activeNodePorts(lb)).length === 2, 'two active nodes');

    const set = await api(lb, `/lbnoderegex?regex=${encodeURIComponent('^vip[0-9]*$')}&ip=127.0.0.1&port=${b.port}`);
    expect(set.status).toBe(200);
    expect(set.body.pinned).toMatchObject({ regex: '^vip[0-9]*$', ip: '127.0.0.1', port: b.port, live: true });

    // To user "vip" matches: every call goes to b, though the user-based map would have placed it anywhere.
    const pinned = await runCalls(lb, { calls: 4, service: 'vip' });
    expect(pinned.stats?.successfulCalls).toBe(4);
    const pinnedIds = sentInvites(pinned);
    expect(pinnedIds.every((id) => b.callIds('INVITE').has(id))).toBe(true);
    expect(pinnedIds.some((id) => a.callIds('INVITE').has(id))).toBe(false);
    expect(await pins(lb)).toEqual([expect.objectContaining({ regex: '^vip[0-9]*$', port: b.port, live: true, hits: 4 })]);

    // Another user is the algorithm's, and a removed pin no longer applies.
    const removed = await api(lb, `/lbnoderegex?regex=${encodeURIComponent('^vip[0-9]*$')}`);
    expect(removed.status).toBe(200);
    expect(await pins(lb)).toEqual([]);
    expect((await api(lb, `/lbnoderegex?regex=${encodeURIComponent('^vip[0-9]*$')}`)).status).toBe(404);
  });

  it('pins by Call-ID under the default algorithm, and a dead pinned node gives its calls back to the algorithm', async () => {
    const lb = await balancer();
    const a = await node(lb);
    const b = await node(lb);
    await waitUntil(async () => (await activeNodePorts(lb)).length === 2, 'two active nodes');
    // sipp Call-IDs are "<number>-<pid>@<ip>": this matches every one.
    expect((await api(lb, `/lbnoderegex?regex=${encodeURIComponent('^[0-9]+-')}&ip=127.0.0.1&port=${a.port}`)).status).toBe(200);
    const pinned = await runCalls(lb, { calls: 4 });
    expect(pinned.stats?.successfulCalls).toBe(4);
    expect(sentInvites(pinned).every((id) => a.callIds('INVITE').has(id))).toBe(true);

    await a.silence();
    await waitUntil(async () => (await activeNodePorts(lb)).length === 1, 'a expired', 8000);
    expect(await pins(lb)).toEqual([expect.objectContaining({ port: a.port, live: false })]);
    const after = await runCalls(lb, { calls: 2 });
    expect(after.stats?.successfulCalls).toBe(2);
    expect(sentInvites(after).every((id) => b.callIds('INVITE').has(id))).toBe(true);
  });

  it('answers 400 to an invalid regex, port or address, or a catastrophic regex, and changes nothing', async () => {
    const lb = await balancer();
    expect((await api(lb, `/lbnoderegex?regex=${encodeURIComponent('^keep')}&ip=127.0.0.1&port=5080`)).status).toBe(200);
    const before = await pins(lb);
    for (const query of [
      `regex=${encodeURIComponent('([a-')}&ip=127.0.0.1&port=5080`,
      `regex=${encodeURIComponent('^keep')}&ip=127.0.0.1&port=99999`,
      `regex=${encodeURIComponent('^keep')}&ip=127.0.0.1&port=50x`,
      `regex=${encodeURIComponent('^keep')}&ip=evil.example.com&port=5080`,
      `regex=${encodeURIComponent('^(a+)+$')}&ip=127.0.0.1&port=5080`,
      `regex=${encodeURIComponent('x'.repeat(300))}&ip=127.0.0.1&port=5080`,
      `regex=${encodeURIComponent('^keep')}&ip=127.0.0.1`,
      `ip=127.0.0.1&port=5080`,
      `regex=${encodeURIComponent('([a-')}`,
    ]) {
      const res = await api(lb, `/lbnoderegex?${query}`);
      expect(res.status, query).toBe(400);
      expect(typeof res.body.error, query).toBe('string');
    }
    expect(await pins(lb)).toEqual(before);
  });
});

describe('/lbloglevel', () => {
  it('takes log4j names at run time and refuses unknown ones', async () => {
    const lb = await balancer();
    // At info, a heartbeat on the external port is ignored without a word; at DEBUG it is logged.
    const socket = createSocket('udp4');
    cleanups.push(() => new Promise<void>((r) => socket.close(() => r())));
    await new Promise<void>((r) => socket.bind(0, HOST, () => r()));
    const beat = (): void => {
      const opts = { balancerPort: lb.externalPort, node: { udpPort: 5999 } };
      socket.send(heartbeatRequest(opts, socket.address().port, 1, `c${Math.random()}`), lb.externalPort, HOST);
    };

    const bad = await api(lb, '/lbloglevel?logLevel=VERBOSE');
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ logLevel: 'info' });
    expect((await api(lb, '/lbloglevel')).status).toBe(400);

    const debug = await api(lb, '/lbloglevel?logLevel=DEBUG');
    expect(debug).toEqual({ status: 200, body: { logLevel: 'debug', previous: 'info' } });
    beat();
    await lb.daemon.waitForLog((l) => l.level === 20 && l.msg.includes('Ignored a SIP heartbeat on the external port'));

    const warn = await api(lb, '/lbloglevel?logLevel=WARN');
    expect(warn.body).toMatchObject({ logLevel: 'warn', previous: 'debug' });
    expect((await api(lb, '/lbloglevel?logLevel=OFF')).body).toMatchObject({ logLevel: 'silent' });
  });
});

describe('/lbstop and securityRequired', () => {
  it('answers 401 to wrong credentials on every endpoint, and keeps running', async () => {
    const lb = await balancer({ securityRequired: true, login: 'admin', password: 's3cret' });
    for (const path of ['/lbstop', '/lbstop?login=admin&password=wrong', '/lbloglevel?logLevel=DEBUG', '/lbnoderegex?regex=x&ip=127.0.0.1&port=5080', '/lbstat', '/nothing']) {
      expect((await api(lb, path)).status, path).toBe(401);
    }
    const wrongBasic = { headers: { authorization: `Basic ${Buffer.from('admin:nope').toString('base64')}` } };
    expect((await api(lb, '/lbstop', wrongBasic)).status).toBe(401);
    // Still running: statistics answer to the right credentials, and the process has not exited.
    const stat = await api(lb, '/lbstat?login=admin&password=s3cret');
    expect(stat.status).toBe(200);
    expect(lb.daemon.child.exitCode).toBeNull();
    const basic = { headers: { authorization: `Basic ${Buffer.from('admin:s3cret').toString('base64')}` } };
    expect((await api(lb, '/lbinfo', basic)).status).toBe(200);
  });

  it('stops the daemon gracefully with the right credentials, as SIGTERM does', async () => {
    const lb = await balancer({ securityRequired: true, login: 'admin', password: 's3cret' });
    const res = await api(lb, '/lbstop?login=admin&password=s3cret');
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ stopping: true });
    const exit = await lb.daemon.exited;
    expect(exit.code).toBe(0);
    expect(lb.daemon.logs.some((l) => l.msg === '/lbstop received: shutting down')).toBe(true);
    expect(lb.daemon.logs.some((l) => l.msg === 'Load balancer stopped')).toBe(true);
  });

  it('refuses HEAD on actions, so that a probe never stops the daemon; other paths get 404 with the endpoints', async () => {
    const lb = await balancer();
    expect((await api(lb, '/lbstop', { method: 'HEAD' })).status).toBe(405);
    expect(lb.daemon.child.exitCode).toBeNull();
    const missing = await api(lb, '/lbnodes');
    expect(missing.status).toBe(404);
    const endpoints = (missing.body.endpoints as string[]).map((e) => e.split(':')[0]);
    expect(endpoints).toEqual(expect.arrayContaining(['/lbstat', '/lbinfo', '/metrics', '/lbloglevel', '/lbnoderegex', '/lbstop']));
  });
});
