// workers=2 end to end: a client's connection (TCP, or WebSocket) lives in the worker that accepted it, yet whatever
// is bound for it arrives: the node's responses to its requests (on new connections either worker accepts) and a
// node's own requests addressed to its Contact, over UDP or over a new TCP connection the other worker accepted; and
// the client's answers get back to the node's connection in that other worker. The TCP clients' Contacts are their
// connections' ports, where nothing listens, and the WebSocket clients' name `.invalid` hosts: a worker without the
// connection could not reach them.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { connect as netConnect, createServer, type Server } from 'node:net';
import { freePorts } from '../helpers/ports.js';
import { runtimeHasReusePort } from '../../src/workers/port-sharing.js';
import { startHeartbeat, type HeartbeatSender } from '../helpers/sip-heartbeat.js';
import { HOST, connectStreamPeer, connectWsPeer, daemonLbstat, headerValues, newBranch, newCallId, okFor, onSipMessages, startWorkersBalancer, type StreamPeer, type WorkersBalancer,  } from '../helpers/workers.js';
import { waitUntil } from '../helpers/wait.js';

interface Client {
  readonly user: string;
  readonly peer: StreamPeer;
  /** Requests from the node it read, and responses to its own. */
  readonly requests: string[];
  readonly responses: string[];
  /** Its Contact URI as the node got it, and the worker named in it. */
  contact?: string;
  owner?: number;
}

/** The worker index a Via or URI names (`;lbw=N`), if any. */
function workerOf(text: string | undefined): number | undefined {
  const m = /;lbw=(\d+)/.exec(text ?? '');
  return m ? Number(m[1]) : undefined;
}

async function handedOver(lb: WorkersBalancer): Promise<number> {
  const text = await (await fetch(`http://${HOST}:${lb.statisticPort}/metrics`)).text();
  return Number(/^sipbalancer_sip_handed_over_total (\d+)/m.exec(text)?.[1] ?? NaN);
}

// TCP clients, and WebSocket clients (reachable only on their connection: the flow alias) too; both ways of sharing
// the ports where this runtime has SO_REUSEPORT (Node 22.12+), else the cluster's sockets.
const lanes = (runtimeHasReusePort() ? ['cluster', 'reuseport'] : ['cluster']).flatMap((sharing) => (['tcp', 'ws'] as const).map((transport) => ({ sharing, transport })));
describe.each(lanes)('workers=2 ($transport clients, ports shared by $sharing): messages for a connection reach the worker that holds it', ({ sharing: workersPortSharing, transport }) => {
  let lb: WorkersBalancer;
  let node: Socket;
  let nodePort: number;
  let heartbeat: HeartbeatSender;
  let nodeServer: Server;
  let wsPort: number;
  const clients: Client[] = [];
  const contacts = new Map<string, string>();
  /** Call-IDs of the 200 OKs the node got, by the way they came (its UDP socket, or a TCP connection it opened). */
  const nodeGot = { udp: new Set<string>(), tcp: new Set<string>() };

  beforeAll(async () => {
    // Port 0 for the WebSocket listener, read back from the daemon; with SO_REUSEPORT the workers bind their own
    // sockets, and the daemon needs one port named for all of them (as startWorkersBalancer does for SIP).
    const wsConfigured = workersPortSharing === 'reuseport' ? (await freePorts(1))[0]! : 0;
    // The internal leg is TCP for both kinds of client.
    lb = await startWorkersBalancer(2, { workersPortSharing, internalTransport: 'tcp', ...(transport === 'ws' ? { externalWsPort: wsConfigured } : {}) });
    if (transport === 'ws') wsPort = lb.daemon.port('externalWsPort');
    [nodePort] = await freePorts(1);
    // The node's UDP socket gets the clients' answers to its own requests sent over UDP.
    node = createSocket('udp4');
    node.on('message', (data) => {
      const text = data.toString('latin1');
      if (text.startsWith('SIP/2.0 ')) nodeGot.udp.add(headerValues(text, 'Call-ID|i')[0]!);
    });
    await new Promise<void>((resolve) => node.bind(nodePort, HOST, resolve));
    // The clients' requests reach the node over TCP (their own transport) from the worker holding the client's
    // connection. The node answers each on a new connection to the balancer's Via (as RFC 3261 18.2.2 allows
    // when the first is gone): the balancer hands each new connection to one worker or the other, so about half
    // of the answers are read by the worker that does not hold the client's connection.
    nodeServer = createServer((conn) => {
      conn.on('error', () => undefined);
      onSipMessages(conn, (text) => {
        if (text.startsWith('SIP/2.0 ')) return;
        if (text.startsWith('REGISTER ')) {
          const user = /sip:([^@]+)@/.exec(headerValues(text, 'From|f')[0]!)![1]!;
          contacts.set(user, /<([^>]+)>/.exec(headerValues(text, 'Contact|m')[0]!)![1]!);
        }
        const [, host, port] = /^SIP\/2\.0\/TCP ([^:;]+):(\d+)/i.exec(headerValues(text, 'Via|v')[0]!)!;
        const answer = netConnect({ host: host!, port: Number(port) }, () => answer.end(okFor(text)));
        answer.on('error', () => undefined);
      });
    });
    await new Promise<void>((resolve) => nodeServer.listen(nodePort, HOST, resolve));
    heartbeat = await startHeartbeat({ balancerPort: lb.internalPort, node: { udpPort: nodePort! }, intervalMs: 500 });
    await waitUntil(async () => (await daemonLbstat(lb.statisticPort)).Workers.each.every((w) => w.knownNodes === 1), 'the node in every worker', 20_000);
  }, 90_000);
  afterAll(async () => {
    for (const c of clients) c.peer.close();
    await heartbeat?.stop();
    node?.close();
    nodeServer?.close();
    if (lb) expect(await lb.daemon.stop()).toBe(0);
  });

  /** A client's request through the balancer to the node; resolves with the 200 OK on its connection. */
  async function request(client: Client, method: string, extra: string[] = []): Promise<string> {
    const callId = newCallId();
    client.peer.write(
      [
        `${method} sip:${HOST}:${lb.externalPort} SIP/2.0`,
        transport === 'ws' ? `Via: SIP/2.0/WS ${client.user}.invalid;branch=${newBranch()}` : `Via: SIP/2.0/TCP ${HOST}:${client.peer.localPort};branch=${newBranch()};rport`,
        'Max-Forwards: 70',
        `From: <sip:${client.user}@${HOST}>;tag=${client.user}`,
        `To: <sip:${client.user}@${HOST}>`,
        `Call-ID: ${callId}`,
        `CSeq: 1 ${method}`,
        ...extra,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
    let ok: string | undefined;
    await waitUntil(() => (ok = client.responses.find((r) => r.includes(callId))) !== undefined, `the 200 OK to ${client.user}'s ${method}`, 10_000);
    return ok!;
  }

  it('clients whose connections both workers hold get the responses the node sends to either worker', async () => {
    // Connections are spread over the workers; connect until each holds three (bounded).
    const held = [0, 0];
    for (let i = 0; i < 40 && (held[0]! < 3 || held[1]! < 3); i++) {
      const user = `user${i}`;
      const requests: string[] = [];
      const responses: string[] = [];
      const connect = transport === 'ws' ? (f: Parameters<typeof connectWsPeer>[1]) => connectWsPeer(wsPort, f) : (f: Parameters<typeof connectStreamPeer>[1]) => connectStreamPeer(lb.externalTcpPort, f);
      const peer = await connect((text, p) => {
        if (text.startsWith('SIP/2.0 ')) responses.push(text);
        else {
          requests.push(text);
          p.write(okFor(text));
        }
      });
      const client: Client = { user, peer, requests, responses };
      clients.push(client);
      // A WebSocket client's Contact names no address (RFC 7118): only its connection reaches it.
      const contact = transport === 'ws' ? `<sip:${user}@${user}.invalid;transport=ws>` : `<sip:${user}@${HOST}:${peer.localPort};transport=tcp>`;
      await request(client, 'REGISTER', [`Contact: ${contact}`, 'Expires: 600']);
      client.contact = contacts.get(user);
      client.owner = workerOf(client.contact);
      expect(client.owner, `the Contact the node got names the worker: ${client.contact}`).toBeTypeOf('number');
      held[client.owner!]!++;
    }
    expect(held, 'each worker holds client connections').toEqual([expect.any(Number), expect.any(Number)]);
    expect(Math.min(...held)).toBeGreaterThanOrEqual(3);

    // Go on until some answer was read by the other worker and handed over (bounded). Two requests in a row per
    // client: the workers take new connections in turn, as the clients' connections were, so one answer per
    // client would meet its own worker every time.
    const before = await handedOver(lb);
    for (let round = 0; round < 20 && (await handedOver(lb)) === before; round++) {
      for (const c of clients) for (let i = 0; i < 2; i++) await request(c, 'OPTIONS');
    }
    expect(await handedOver(lb), 'responses handed to the worker holding the connection').toBeGreaterThan(before);
  }, 120_000);

  it("a node's requests reach the client over UDP and over TCP connections either worker accepts; the answers reach the node", async () => {
    expect(clients.length).toBeGreaterThanOrEqual(6);
    const sent = new Map<Client, string[]>();
    const crossed = new Set<Client>();
    const nodeConnections: StreamPeer[] = [];
    const message = (c: Client, transport: 'UDP' | 'TCP', localPort: number, callId: string): string =>
      [
        `MESSAGE ${c.contact} SIP/2.0`,
        `Via: SIP/2.0/${transport} ${HOST}:${localPort};branch=${newBranch()};rport`,
        'Max-Forwards: 70',
        `From: <sip:node@${HOST}>;tag=node`,
        `To: <sip:${c.user}@${HOST}>`,
        `Call-ID: ${callId}`,
        'CSeq: 1 MESSAGE',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
    const record = (c: Client, callId: string): void => void sent.set(c, [...(sent.get(c) ?? []), callId]);
    const arrived = (c: Client, callId: string): string | undefined => c.requests.find((r) => r.includes(callId));

    try {
      for (const c of clients) {
        // Over UDP from the node's port.
        const udpCall = newCallId();
        record(c, udpCall);
        node.send(message(c, 'UDP', nodePort, udpCall), lb.internalPort, HOST);
        await waitUntil(() => arrived(c, udpCall) !== undefined, `${c.user} gets the node's MESSAGE over UDP`, 10_000);
        // Over new TCP connections until one was read by the worker that does not hold the client's (bounded).
        for (let attempt = 0; attempt < 10 && !crossed.has(c); attempt++) {
          const conn = await connectStreamPeer(lb.internalTcpPort, (text) => {
            if (text.startsWith('SIP/2.0 ')) nodeGot.tcp.add(headerValues(text, 'Call-ID|i')[0]!);
          });
          nodeConnections.push(conn);
          const tcpCall = newCallId();
          record(c, tcpCall);
          conn.write(message(c, 'TCP', conn.localPort, tcpCall));
          await waitUntil(() => arrived(c, tcpCall) !== undefined, `${c.user} gets the node's MESSAGE over TCP`, 10_000);
          const readBy = workerOf(headerValues(arrived(c, tcpCall)!, 'Via|v')[0]);
          expect(readBy, 'the Via of a request from a connection names the worker').toBeTypeOf('number');
          if (readBy !== c.owner) crossed.add(c);
        }
      }
      expect(clients.filter((c) => !crossed.has(c)).map((c) => c.user), 'clients reached through the other worker').toEqual([]);
      for (const c of clients) {
        for (const callId of sent.get(c)!) {
          const got = arrived(c, callId)!;
          const own = c.contact!.replace(/;lbw=\d+/, '').replace(/;lbflow=[^;>]+/, '');
          expect(got.startsWith(`MESSAGE ${own} `), `the client gets its own URI back: ${got.split('\r\n')[0]}`).toBe(true);
        }
      }
      // Each answer got back to the node: on its UDP socket, or on the very connection the request came on.
      const all = [...sent.values()].flat();
      await waitUntil(() => all.every((id) => nodeGot.udp.has(id) || nodeGot.tcp.has(id)), 'every 200 OK at the node', 10_000).catch(() => undefined);
      expect(all.filter((id) => !nodeGot.udp.has(id) && !nodeGot.tcp.has(id)), 'answers lost').toEqual([]);
    } finally {
      for (const conn of nodeConnections) conn.close();
    }
  }, 120_000);
});
