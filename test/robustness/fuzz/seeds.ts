// The inputs the fuzzers mutate: valid SIP requests and responses, the RFC 4475 torture messages (fixtures,
// written with LF and sent with CRLF), valid HTTP requests (balancer, statistics and JSON heartbeat ports), and
// valid SMPP PDUs (what an ESME sends, and what an SMSC sends unasked).

import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cmd, encodeBind, encodePdu } from '../../../src/smpp/pdu.js';

const TORTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'rfc4475');

/** RFC 4475 torture messages (a selection): CRLF line ends, as on the wire. */
export function tortureMessages(): Buffer[] {
  return readdirSync(TORTURE_DIR)
    .filter((f) => f.endsWith('.sip'))
    .sort()
    .map((f) => Buffer.from(readFileSync(join(TORTURE_DIR, f), 'utf8').replace(/\r?\n/g, '\r\n'), 'utf8'));
}

/** Valid SIP messages from a client at 127.0.0.1:`port` over `transport`, to the balancer at `lbPort`. */
export function sipSeeds(transport: 'UDP' | 'TCP', port: number, lbPort: number): Buffer[] {
  const via = `Via: SIP/2.0/${transport} 127.0.0.1:${port};branch=z9hG4bK-fuzz;rport`;
  const head = (start: string, method: string, extra: string[] = []): string[] => [
    start, via, 'Max-Forwards: 70', 'To: <sip:bob@127.0.0.1>', 'From: "Alice" <sip:alice@127.0.0.1>;tag=fz1',
    'Call-ID: fuzz-seed@127.0.0.1', `CSeq: 1 ${method}`, `Contact: <sip:alice@127.0.0.1:${port};transport=${transport.toLowerCase()}>`, ...extra,
  ];
  const sdp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n';
  const msg = (lines: string[], body = ''): Buffer =>
    Buffer.from([...lines, ...(body ? ['Content-Type: application/sdp'] : []), `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n'), 'latin1');
  return [
    msg(head(`INVITE sip:bob@127.0.0.1:${lbPort} SIP/2.0`, 'INVITE'), sdp),
    msg(head(`OPTIONS sip:127.0.0.1:${lbPort} SIP/2.0`, 'OPTIONS')),
    msg(head(`REGISTER sip:127.0.0.1:${lbPort} SIP/2.0`, 'REGISTER', ['Expires: 3600'])),
    msg(head(`BYE sip:bob@127.0.0.1:${lbPort} SIP/2.0`, 'BYE', [`Route: <sip:127.0.0.1:${lbPort};lr;node_host=127.0.0.1;node_port=5060;version=0>`])),
    msg(head(`ACK sip:bob@127.0.0.1:${lbPort} SIP/2.0`, 'ACK')),
    msg(head(`MESSAGE sip:bob@127.0.0.1:${lbPort} SIP/2.0`, 'MESSAGE'), 'hello'),
    msg(['SIP/2.0 200 OK', `Via: SIP/2.0/${transport} 127.0.0.1:${lbPort};branch=z9hG4bK-lb;rport`, via, 'To: <sip:bob@127.0.0.1>;tag=b1',
      'From: <sip:alice@127.0.0.1>;tag=fz1', 'Call-ID: fuzz-seed@127.0.0.1', 'CSeq: 1 INVITE', `Record-Route: <sip:127.0.0.1:${lbPort};lr>`], sdp),
    msg(['SIP/2.0 180 Ringing', via, 'To: <sip:bob@127.0.0.1>;tag=b1', 'From: <sip:alice@127.0.0.1>;tag=fz1', 'Call-ID: fuzz-seed@127.0.0.1', 'CSeq: 1 INVITE']),
    ...tortureMessages(),
  ];
}

/** Valid HTTP/1.1 requests to the HTTP balancer. */
export function httpSeeds(port: number): Buffer[] {
  const host = `Host: 127.0.0.1:${port}`;
  return [
    `GET / HTTP/1.1\r\n${host}\r\nConnection: close\r\n\r\n`,
    `GET /app/index.html?x=1&y=%20 HTTP/1.1\r\n${host}\r\nCookie: JSESSIONID=abc.node1; other=1\r\nConnection: close\r\n\r\n`,
    `POST /submit HTTP/1.1\r\n${host}\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world`,
    `POST /chunked HTTP/1.1\r\n${host}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    `GET /ws HTTP/1.1\r\n${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    `OPTIONS * HTTP/1.1\r\n${host}\r\nConnection: close\r\n\r\n`,
    `GET http://127.0.0.1:${port}/abs HTTP/1.0\r\n\r\n`,
  ].map((s) => Buffer.from(s, 'latin1'));
}

/**
 * Valid requests to the statistics port: every read endpoint, the admin actions that change nothing lasting
 * (log level INFO, a pin set and removed), unknown paths, wrong methods. Never /lbstop: a mutation of it must not
 * stop the daemon under test.
 */
export function statSeeds(port: number): Buffer[] {
  const get = (path: string, method = 'GET', extra = ''): string => `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extra}Connection: close\r\n\r\n`;
  return [
    get('/lbstat'),
    get('/lbinfo'),
    get('/metrics'),
    get('/lbstat', 'HEAD'),
    get('/dashboard/state'),
    get('/'),
    get('/lbloglevel?logLevel=INFO'),
    get('/lbnoderegex?regex=^fuzz.*&ip=127.0.0.1&port=5060'),
    get('/lbnoderegex?regex=^fuzz.*'),
    get('/lbinfo?login=admin&password=secret', 'GET', 'Authorization: Basic YWRtaW46c2VjcmV0\r\n'),
    get('/lbstat', 'POST', 'Content-Length: 0\r\n'),
    get('/no/such/endpoint?x=%00'),
  ].map((t) => Buffer.from(t, 'latin1'));
}

/** Valid JSON heartbeat messages (POST /): start with every field, heartbeat, shutdown, stop. */
export function heartbeatSeeds(port: number): Buffer[] {
  const post = (body: unknown): Buffer => {
    const json = JSON.stringify(body);
    return Buffer.from(`POST / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`, 'latin1');
  };
  const start = { hostName: 'fz', ip: '127.0.0.1', httpPort: 9, sslPort: '10', udpPort: 11, tcpPort: 12, smppPort: 13, jvmRoute: 'fz1', version: '0', sessionId: 'fuzz-1', region: 'x' };
  return [
    post({ start }),
    post({ start: { ...start, ip: '::1', sessionId: 'fuzz-2', wsPort: 14, wssPort: 15, tlsPort: 16 } }),
    post({ heartbeat: { sessionId: 'fuzz-1' } }),
    post({ shutdown: { sessionId: 'fuzz-1' } }),
    post({ stop: { sessionId: 'fuzz-2' } }),
  ];
}

/** Valid SMPP PDUs an ESME sends: binds, submit_sm, enquire_link, unbind. */
export function smppSeeds(): Buffer[] {
  const bind = (commandId: number): Buffer =>
    encodeBind({ commandId, systemId: 'fuzz', password: 'pw', systemType: '', interfaceVersion: 0x34, addrTon: 0, addrNpi: 0, addressRange: '' }, 1);
  // submit_sm body: service_type, source ton/npi/addr, dest ton/npi/addr, esm_class, protocol_id, priority,
  // schedule, validity, registered_delivery, replace, data_coding, sm_default_msg_id, sm_length, short_message.
  const cstr = (s: string): Buffer => Buffer.from(`${s}\0`, 'latin1');
  const text = Buffer.from('hello', 'latin1');
  const submitBody = Buffer.concat([
    cstr(''), Buffer.from([1, 1]), cstr('12345'), Buffer.from([1, 1]), cstr('67890'),
    Buffer.from([0, 0, 0]), cstr(''), cstr(''), Buffer.from([0, 0, 0, 0, text.length]), text,
  ]);
  return [
    bind(Cmd.bind_transceiver),
    bind(Cmd.bind_transmitter),
    bind(Cmd.bind_receiver),
    encodePdu(Cmd.submit_sm, 0, 2, submitBody),
    encodePdu(Cmd.enquire_link, 0, 3),
    encodePdu(Cmd.unbind, 0, 4),
  ];
}

/** PDUs an SMSC sends unasked (`seq` numbers them): deliver_sm, data_sm, enquire_link, alert_notification, unbind, outbind, a response nobody asked for. */
export function smscSeeds(seq: number): Buffer[] {
  const body = smppSeeds()[3]!.subarray(16);
  // The same body as a delivery receipt: esm_class (after service_type, source and destination) 0x04.
  const receipt = Buffer.from(body);
  receipt[17] = 0x04;
  return [
    encodePdu(Cmd.deliver_sm, 0, seq, body),
    encodePdu(Cmd.deliver_sm, 0, seq, receipt),
    encodePdu(Cmd.data_sm, 0, seq, body.subarray(0, 20)),
    encodePdu(Cmd.enquire_link, 0, seq),
    encodePdu(Cmd.alert_notification, 0, seq, Buffer.from('\x01\x0112345\0\x01\x0167890\0', 'latin1')),
    encodePdu(Cmd.unbind, 0, seq),
    encodePdu(Cmd.outbind, 0, seq, Buffer.from('smsc\0pw\0', 'latin1')),
    encodePdu(Cmd.submit_sm_resp, 0, seq + 7, Buffer.from('stray\0', 'latin1')),
    encodePdu(Cmd.generic_nack, 3, seq),
  ];
}
