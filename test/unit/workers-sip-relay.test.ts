// The worker relay's pure parts: the worker mark on a connected client's Contact, taking it off a node's
// Request-URI, and which responses are handed to another worker (and never twice).

import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../src/sip/message.js';
import { SipRelay, markContact, type SipRelayMessage } from '../../src/workers/sip-relay.js';
import type { Flow, ListeningPoint } from '../../src/sip/transport/transport.js';
import { silentLogger } from '../../src/log.js';

const log = silentLogger();

function relayOf(index: number, workers = 2): { relay: SipRelay; posted: [number, SipRelayMessage][] } {
  const posted: [number, SipRelayMessage][] = [];
  return { relay: new SipRelay(index, workers, (to, m) => posted.push([to, m]), log), posted };
}

const point = { side: 'external', transport: 'tcp', host: '127.0.0.1', port: 5060 } as ListeningPoint;
const flow: Flow = { transport: 'tcp', local: point, remoteAddress: '10.0.0.9', remotePort: 40000, send: () => undefined };

const response = (topVia: string): string =>
  [
    'SIP/2.0 200 OK',
    `Via: ${topVia}`,
    'Via: SIP/2.0/TCP 10.0.0.9:40000;branch=z9hG4bKc;rport=40000;received=10.0.0.9',
    'From: <sip:a@x>;tag=1',
    'To: <sip:a@x>;tag=2',
    'Call-ID: c1',
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');

describe('worker relay', () => {
  it('marks a Contact with the worker, replacing a mark the client wrote', () => {
    expect(markContact('<sip:a@10.0.0.9:40000;transport=tcp>', 1)).toBe('<sip:a@10.0.0.9:40000;transport=tcp;lbw=1>');
    expect(markContact('"A" <sip:a@10.0.0.9:40000;lbw=0>;expires=60', 1)).toBe('"A" <sip:a@10.0.0.9:40000;lbw=1>;expires=60');
    expect(markContact('sip:a@10.0.0.9:40000;expires=60', 0)).toBe('<sip:a@10.0.0.9:40000;lbw=0>;expires=60');
    expect(markContact('*', 0)).toBe('*');
    expect(markContact('<tel:+123>', 0)).toBe('<tel:+123>');
  });

  it("takes the worker off a node's Request-URI; names only another, existing worker", () => {
    const { relay } = relayOf(0, 2);
    const req = (ruri: string) => parseMessage(`MESSAGE ${ruri} SIP/2.0\r\nVia: SIP/2.0/UDP n;branch=z9hG4bKn\r\nCall-ID: c\r\nCSeq: 1 MESSAGE\r\nFrom: <sip:n@x>;tag=n\r\nTo: <sip:a@x>\r\nContent-Length: 0\r\n\r\n`);
    const m = req('sip:a@10.0.0.9:40000;transport=tcp;lbw=1');
    expect(relay.ownerOf(m)).toBe(1);
    expect(m.requestUri).toBe('sip:a@10.0.0.9:40000;transport=tcp');
    const own = req('sip:a@10.0.0.9:40000;lbw=0');
    expect(relay.ownerOf(own)).toBeUndefined();
    expect(own.requestUri).toBe('sip:a@10.0.0.9:40000');
    expect(relay.ownerOf(req('sip:a@10.0.0.9:40000;lbw=7'))).toBeUndefined();
    expect(relay.ownerOf(req('sip:a@10.0.0.9:40000;lbw=-1'))).toBeUndefined();
  });

  it("hands a response whose top Via names another worker to it, once; its Contacts keep the reader's mark", () => {
    const a = relayOf(0);
    const b = relayOf(1);
    const delivered: { flow: Flow; contact: string | undefined }[] = [];
    b.relay.attach((msg, f) => {
      b.relay.markContacts(msg, f);
      delivered.push({ flow: f, contact: msg.header('contact') });
    }, [point]);

    expect(a.relay.handOver(parseMessage(response('SIP/2.0/UDP 127.0.0.1:5065;branch=z9hG4bKx;lbw=0')), flow)).toBe(false);
    expect(a.relay.handOver(parseMessage(response('SIP/2.0/UDP 127.0.0.1:5065;branch=z9hG4bKx')), flow)).toBe(false);
    const msg = parseMessage(response('SIP/2.0/UDP 127.0.0.1:5065;branch=z9hG4bKx;lbw=1').replace('Content-Length', 'Contact: <sip:a@10.0.0.9:40000>\r\nContent-Length'));
    expect(a.relay.handOver(msg, flow)).toBe(true);
    expect(a.posted).toHaveLength(1);
    const [to, handed] = a.posted[0]!;
    expect(to).toBe(1);
    expect(handed).toMatchObject({ kind: 'message', side: 'external', transport: 'tcp', remoteAddress: '10.0.0.9', remotePort: 40000, from: 0 });

    b.relay.take(handed);
    expect(delivered).toHaveLength(1);
    // The connection is worker 0's: the Contact says so, whichever worker handles the message.
    expect(delivered[0]!.contact).toBe('<sip:a@10.0.0.9:40000;lbw=0>');
    // Handed over once: handled where it arrived, even if it names yet another worker.
    expect(b.relay.handOver(parseMessage(response('SIP/2.0/UDP 127.0.0.1:5065;branch=z9hG4bKx;lbw=0')), delivered[0]!.flow)).toBe(false);
    // A reply on that flow goes back to worker 0, to the connection's address.
    delivered[0]!.flow.send(Buffer.from('SIP/2.0 100 Trying\r\n\r\n'));
    expect(b.posted[0]).toMatchObject([0, { kind: 'send', side: 'external', transport: 'tcp', host: '10.0.0.9', port: 40000 }]);
  });

  it('sends bytes handed over from its own listening point of that side and transport; counts what it cannot', () => {
    const { relay } = relayOf(1);
    const sends: [string, string, number][] = [];
    const tcp = { ...point, sendTo: (data: Buffer, host: string, port: number) => sends.push([data.toString('latin1'), host, port]) } as ListeningPoint;
    relay.attach(() => undefined, [tcp]);
    relay.take({ kind: 'send', side: 'external', transport: 'tcp', host: '10.0.0.9', port: 40000, data: 'MESSAGE x' });
    expect(sends).toEqual([['MESSAGE x', '10.0.0.9', 40000]]);
    relay.take({ kind: 'send', side: 'internal', transport: 'ws', host: '10.0.0.9', port: 40000, data: 'x' });
    expect(relay.lost).toBe(1);
  });
});
