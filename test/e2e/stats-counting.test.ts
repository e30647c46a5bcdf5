// /lbstat and /metrics counted against traffic the test knows message by message: one sipp call through the
// balancer to a sipp UAS (a never-expiring node: no heartbeat traffic), and one HTTP exchange from a raw client
// socket through the balancer to a node:http server. The README's meanings: NumberOfRequestsProcessed and
// NumberOfResponsesProcessed count SIP messages received; NumberOfBytesTransferred every SIP byte received and
// sent on the listening points; NumberOfHttpBytesToServer / ToClient the bytes read from / written to the client.

import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startBalancer, HOST } from '../helpers/sip-balancer.js';
import { startDaemon } from '../helpers/daemon.js';
import { freePorts } from '../helpers/ports.js';
import { lbstat, registerNode } from '../helpers/json-heartbeat.js';
import { runSipp, startSipp, type SippMessage } from '../helpers/sipp.js';
import {} from '../helpers/workers.js';
import { waitUntil } from '../helpers/wait.js';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});


/** One sample of a Prometheus text exposition: `name{label="value"}` → number (0 when absent). */
async function metric(port: number, name: string, label?: [string, string]): Promise<number> {
  const text = await (await fetch(`http://${HOST}:${port}/metrics`)).text();
  const selector = label ? `${name}{${label[0]}="${label[1]}"}` : name;
  const line = text.split('\n').find((l) => l.startsWith(`${selector} `));
  return line === undefined ? 0 : Number(line.slice(selector.length + 1));
}

function countBy<T>(items: readonly T[], key: (t: T) => string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) {
    const k = key(item);
    if (k !== undefined) out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

const nonZero = (counts: Record<string, number>): Record<string, number> => Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0));

describe('/lbstat and /metrics count what went through', () => {
  it('one sipp call: requests and responses received, by method and status, and every SIP byte both ways', async () => {
    // sipp takes its port on the command line: the one place this test picks a port.
    const [uasPort, uacPort] = (await freePorts(2)) as [number, number];
    const lb = await startBalancer({ extraServerNodes: `${HOST}:${uasPort}`, performanceTestingMode: true, heartbeatPort: '' });
    cleanups.push(() => lb.stop());
    const uas = await startSipp({ scenario: 'uas.xml', localPort: uasPort, traceMessages: true, timeoutMs: 60_000 });
    cleanups.push(() => uas.stop());
    const before = await lbstat(lb.statisticPort);
    expect([before.NumberOfRequestsProcessed, before.NumberOfResponsesProcessed, before.NumberOfBytesTransferred]).toEqual([0, 0, 0]);

    const uac = await runSipp({ scenario: 'uac.xml', localPort: uacPort, remote: `${HOST}:${lb.externalPort}`, calls: 1, callLengthMs: 10, traceMessages: true, recvTimeoutMs: 5000, timeoutMs: 20_000 });
    expect(uac.stats?.successfulCalls).toBe(1);
    const atUas = (await uas.stop()).messages;
    const all: SippMessage[] = [...uac.messages, ...atUas];
    const sentToLb = all.filter((m) => m.direction === 'sent');
    const requests = sentToLb.filter((m) => m.method !== undefined);
    const responses = sentToLb.filter((m) => m.status !== undefined);
    // The balancer's own 100 Trying is a response it sends, counted by status but not as one received.
    const own = uac.messages.filter((m) => m.direction === 'received' && m.status === 100);
    expect(requests.map((m) => m.method).sort()).toEqual(['ACK', 'BYE', 'INVITE']);

    await waitUntil(async () => (await lbstat(lb.statisticPort)).NumberOfResponsesProcessed === responses.length, 'the BYE 200 OK counted');
    const after = await lbstat(lb.statisticPort);
    expect(after.NumberOfRequestsProcessed).toBe(requests.length);
    expect(after.NumberOfResponsesProcessed).toBe(responses.length);
    expect(nonZero(after.SipRequestsByMethod as Record<string, number>)).toEqual(countBy(requests, (m) => m.method));
    expect(nonZero(after.SipResponsesByStatusCode as Record<string, number>)).toEqual(countBy([...responses, ...own], (m) => String(m.status)));
    // What a peer sent, the balancer received; what a peer received, the balancer sent (its own 100 Trying too):
    // the two traces together hold every byte the balancer moved, once.
    expect(all.every((m) => Number.isInteger(m.bytes) && m.bytes > 0)).toBe(true);
    expect(after.NumberOfBytesTransferred).toBe(all.reduce((sum, m) => sum + m.bytes, 0));

    for (const [method, n] of Object.entries(countBy(requests, (m) => m.method))) expect(await metric(lb.statisticPort, 'sipbalancer_sip_requests_total', ['method', method])).toBe(n);
    for (const [status, n] of Object.entries(countBy([...responses, ...own], (m) => String(m.status)))) expect(await metric(lb.statisticPort, 'sipbalancer_sip_responses_total', ['status', status])).toBe(n);
    expect(await metric(lb.statisticPort, 'sipbalancer_sip_bytes_total')).toBe(after.NumberOfBytesTransferred);
  }, 60_000);

  it('one HTTP exchange: one request and response, and the bytes the client wrote and read', async () => {
    const node = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('counted body'));
    });
    await new Promise<void>((resolve) => node.listen(0, HOST, resolve));
    cleanups.push(() => new Promise<void>((resolve) => node.close(() => resolve())));
    const lb = await startDaemon({ properties: { host: HOST, externalPort: 0, heartbeatPort: 0, statisticPort: 0, httpPort: 0 } });
    cleanups.push(() => lb.stop());
    const stat = lb.port('statisticPort');
    cleanups.push(await registerNode(lb.port('heartbeatPort'), { hostName: 'web', ip: HOST, httpPort: (node.address() as AddressInfo).port }));
    await waitUntil(async () => (await lbstat(stat)).activeNodes === 1, 'the node registered');

    const request = Buffer.from(`GET /count HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`, 'latin1');
    const answer = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const socket = net.connect(lb.port('httpPort'), HOST, () => socket.write(request));
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.on('close', () => resolve(Buffer.concat(chunks)));
      socket.on('error', reject);
    });
    expect(answer.toString('latin1')).toMatch(/^HTTP\/1\.1 200 [\s\S]*counted body$/);

    await waitUntil(async () => (await lbstat(stat)).NumberOfHttpBytesToClient === answer.length, 'the closed connection counted');
    const after = await lbstat(stat);
    expect(after.NumberOfHttpRequests).toBe(1);
    expect(nonZero(after.HttpRequestsByMethod as Record<string, number>)).toEqual({ GET: 1 });
    expect(nonZero(after.HttpResponsesByStatusCode as Record<string, number>)).toEqual({ 200: 1 });
    expect(after.NumberOfHttpBytesToServer).toBe(request.length);
    expect(after.NumberOfHttpBytesToClient).toBe(answer.length);
    expect(await metric(stat, 'sipbalancer_http_requests_total', ['method', 'GET'])).toBe(1);
    expect(await metric(stat, 'sipbalancer_http_responses_total', ['status', '200'])).toBe(1);
    expect(await metric(stat, 'sipbalancer_http_bytes_to_server_total')).toBe(request.length);
    expect(await metric(stat, 'sipbalancer_http_bytes_to_client_total')).toBe(answer.length);
  }, 60_000);
});
