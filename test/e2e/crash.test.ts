// An uncaught exception end to end. The honest trigger is a bug in an operator's custom algorithm module: its
// nodesChanged schedules a throw outside the balancer's guard when a node named "crash" joins (once: it deletes a
// trigger file first). One process: the exception is logged with its stack, the listeners close at once, an HTTP
// request in flight still gets its answer, and the process exits 70. workers=2: the worker that hit it exits 70
// and the primary starts a new one; the daemon keeps serving.

import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDaemon, type Daemon } from '../helpers/daemon.js';
import { registerNode } from '../helpers/json-heartbeat.js';
import { daemonLbstat } from '../helpers/workers.js';
import { waitUntil } from '../helpers/wait.js';

const HOST = '127.0.0.1';

const MODULE = `
import { unlinkSync } from 'node:fs';
export default class CrashOnce {
  nodes = [];
  init(ctx) { this.trigger = ctx.properties.crashTrigger; }
  nodesChanged(live) {
    this.nodes = live.filter((n) => n.state === 'active');
    if (!live.some((n) => n.hostname === 'crash')) return;
    try { unlinkSync(this.trigger); } catch { return; }
    // The bug: a throw in a callback of the module's own, where no guard of the balancer can catch it.
    setImmediate(() => { throw new Error('plug-in bug in nodesChanged'); });
  }
  pickForSipRequest() { return this.nodes[0]; }
}
`;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A custom algorithm module and its trigger file in a temporary directory. */
function crashModule(): { module: string; trigger: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sipbalancer-crash-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'crash-once.mjs'), MODULE);
  writeFileSync(join(dir, 'trigger'), '');
  return { module: join(dir, 'crash-once.mjs'), trigger: join(dir, 'trigger') };
}

/** An HTTP node that holds every request until release() is called. */
async function heldNode(): Promise<{ port: number; received: () => number; release: () => void; close: () => Promise<void> }> {
  const held: http.ServerResponse[] = [];
  let received = 0;
  let released = false;
  const server = http.createServer((req, res) => {
    received++;
    req.resume();
    if (released) res.end('answered');
    else held.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => received,
    release: () => {
      released = true;
      for (const res of held.splice(0)) res.end('answered');
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function get(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // agent: false — one connection, Connection: close.
    http.get({ host: HOST, port, path: '/in-flight', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, HOST);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

async function start(workers: number, module: string, trigger: string): Promise<{ daemon: Daemon; httpPort: number; heartbeatPort: number; statisticPort: number }> {
  const daemon = await startDaemon({
    properties: {
      host: HOST, externalPort: 0, httpPort: 0, heartbeatPort: 0, statisticPort: 0,
      algorithmClass: module, crashTrigger: trigger, shutdownTimeout: 8000, workers,
    },
    readyTimeoutMs: 60_000,
  });
  cleanups.push(async () => {
    if (daemon.child.exitCode === null) await daemon.stop('SIGKILL');
  });
  return { daemon, httpPort: daemon.port('httpPort'), heartbeatPort: daemon.port('heartbeatPort'), statisticPort: daemon.port('statisticPort') };
}

describe('an uncaught exception', () => {
  it('one process: logged with its stack, no new connections, the request in flight answered, exit code 70', async () => {
    const { module, trigger } = crashModule();
    const node = await heldNode();
    cleanups.push(() => node.close());
    const { daemon, httpPort, heartbeatPort, statisticPort } = await start(1, module, trigger);
    cleanups.push(await registerNode(heartbeatPort, { hostname: 'web', ip: HOST, httpPort: node.port }));
    await waitUntil(async () => (await daemonLbstat(statisticPort)).activeNodes === 1, 'the node registered', 10_000);

    const inFlight = get(httpPort);
    await waitUntil(() => node.received() === 1, 'the request at the node');
    cleanups.push(await registerNode(heartbeatPort, { hostname: 'crash', ip: HOST, httpPort: node.port + 1 }));

    const fatal = await daemon.waitForLog((l) => l.level === 60, 10_000);
    expect(fatal.msg).toContain('uncaught exception: plug-in bug in nodesChanged');
    expect((fatal.err as { stack: string }).stack).toMatch(/Error: plug-in bug in nodesChanged\n\s+at /);
    await waitUntil(() => refused(httpPort), 'the HTTP port refusing new connections', 5000);
    expect(daemon.child.exitCode, 'still finishing the request in flight').toBeNull();

    node.release();
    expect(await inFlight).toEqual({ status: 200, body: 'answered' });
    const { code } = await daemon.exited;
    expect(code).toBe(70);
  }, 60_000);

  it('workers=2: the worker that hit it exits 70 and is restarted; the daemon keeps serving', async () => {
    const { module, trigger } = crashModule();
    const node = await heldNode();
    node.release();
    cleanups.push(() => node.close());
    const { daemon, httpPort, heartbeatPort, statisticPort } = await start(2, module, trigger);
    cleanups.push(await registerNode(heartbeatPort, { hostname: 'crash', ip: HOST, httpPort: node.port }));

    const fatal = await daemon.waitForLog((l) => l.level === 60, 15_000);
    expect(fatal.msg).toContain('uncaught exception: plug-in bug in nodesChanged');
    expect(typeof fatal.worker).toBe('number');
    const died = await daemon.waitForLog((l) => /^Worker \d \(pid \d+\) died \(exit code 70\)/.test(l.msg), 15_000);
    expect(died.level).toBe(50);
    await daemon.waitForLog(/^Worker \d restarted/, 30_000);
    await waitUntil(async () => (await daemonLbstat(statisticPort)).Workers.serving === 2, 'both workers serving', 10_000);
    const stat = await daemonLbstat(statisticPort);
    expect(stat.Workers.restarts).toBe(1);
    expect(daemon.child.exitCode).toBeNull();
    expect(await get(httpPort)).toEqual({ status: 200, body: 'answered' });
  }, 90_000);
});
