// The SIP framer and editor, rule by rule (RFC 3261 7 and 18.3, RFC 5626 keep-alives), and the RFC 4475
// torture messages: the valid ones parse, the invalid ones are rejected (or passed through) without a crash.

import { describe, expect, it } from 'vitest';
import { parseDatagram, parseMessage, parseVia, splitList, type SipMessage } from '../../src/sip/message.js';
import { StreamFramer } from '../../src/sip/stream-framer.js';
import { headerParam, parseUri, uriOfNameAddr, userOfUri } from '../../src/sip/uri.js';

/** Joins lines with CRLF; `body` goes after the blank line, and `{CL}` in a header is replaced by its byte length. */
function sip(lines: string[], body = ''): Buffer {
  const bodyBytes = Buffer.from(body, 'utf8');
  const head = lines.join('\r\n').replace('{CL}', String(bodyBytes.length));
  return Buffer.concat([Buffer.from(head + '\r\n\r\n', 'latin1'), bodyBytes]);
}

const SDP = ['v=0', 'o=mhandley 29739 7272939 IN IP4 192.0.2.3', 's=-', 'c=IN IP4 192.0.2.4', 't=0 0', 'm=audio 49217 RTP/AVP 0 12', 'm=video 3227 RTP/AVP 31', 'a=rtpmap:31 LPC', ''].join('\r\n');

const INVITE = sip([
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.atlanta.example.com:5066;branch=z9hG4bK776asdhds;rport',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.example.com>',
  'From: "Alice A" <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.example.com>',
  'Content-Type: application/sdp',
  'Content-Length: {CL}',
], SDP);

function parse(buf: Buffer): SipMessage {
  const r = parseDatagram(buf);
  if (r.kind !== 'message') throw new Error(r.kind === 'malformed' ? r.error : 'keepalive');
  return r.message;
}

function rejected(buf: Buffer): boolean {
  return parseDatagram(buf).kind === 'malformed';
}

describe('datagram framing', () => {
  it('reads the start line, Call-ID, CSeq, tags and users of a request', () => {
    const m = parse(INVITE);
    expect(m.isRequest).toBe(true);
    expect(m.method).toBe('INVITE');
    expect(m.requestUri).toBe('sip:bob@biloxi.example.com');
    expect(m.callId).toBe('a84b4c76e66710@pc33.atlanta.example.com');
    expect(m.cseq).toEqual({ num: 314159, method: 'INVITE' });
    expect(m.fromTag).toBe('1928301774');
    expect(m.toTag).toBeUndefined();
    expect(m.fromUser).toBe('alice');
    expect(m.toUser).toBe('bob');
    expect(m.fromUri).toBe('sip:alice@atlanta.example.com');
    expect(m.maxForwards).toBe(70);
    expect(m.body.toString()).toBe(SDP);
  });

  it('reads the top Via: transport, sent-by, branch, rport', () => {
    const v = parse(INVITE).topVia!;
    expect(v).toMatchObject({ transport: 'UDP', host: 'pc33.atlanta.example.com', port: 5066, branch: 'z9hG4bK776asdhds', rport: '' });
  });

  it('reads a response status line', () => {
    const m = parse(sip(['SIP/2.0 180 Ringing', 'Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1', 'To: <sip:b@b>;tag=2', 'From: <sip:a@a>;tag=1', 'Call-ID: x', 'CSeq: 1 INVITE', 'Content-Length: 0']));
    expect(m.isRequest).toBe(false);
    expect(m.status).toBe(180);
    expect(m.reason).toBe('Ringing');
    expect(m.toTag).toBe('2');
  });

  it('returns the very same bytes when nothing was edited', () => {
    const m = parse(INVITE);
    expect(m.toBuffer().equals(INVITE)).toBe(true);
  });

  it('discards bytes past Content-Length', () => {
    const buf = Buffer.concat([INVITE, Buffer.from('garbage after the body')]);
    const m = parse(buf);
    expect(m.body.toString()).toBe(SDP);
    expect(m.toBuffer().equals(INVITE)).toBe(true);
  });

  it('drops a message whose Content-Length is larger than the body', () => {
    expect(rejected(INVITE.subarray(0, INVITE.length - 5))).toBe(true);
  });

  it('counts Content-Length in bytes, not characters', () => {
    const body = 'héllo wörld ☎';
    const m = parse(sip(['MESSAGE sip:b@b SIP/2.0', 'Via: SIP/2.0/UDP a;branch=z9hG4bK1', 'To: <sip:b@b>', 'From: <sip:a@a>;tag=1', 'Call-ID: u', 'CSeq: 1 MESSAGE', 'Content-Length: {CL}'], body));
    expect(m.body.toString('utf8')).toBe(body);
    expect(m.body.length).toBe(Buffer.byteLength(body));
  });

  it('takes the rest of a datagram as the body when Content-Length is absent, and writes one when edited', () => {
    const m = parse(sip(['MESSAGE sip:b@b SIP/2.0', 'Via: SIP/2.0/UDP a;branch=z9hG4bK1', 'To: <sip:b@b>', 'From: <sip:a@a>;tag=1', 'Call-ID: u', 'CSeq: 1 MESSAGE'], 'hi'));
    expect(m.body.toString()).toBe('hi');
    m.setMaxForwards(69);
    expect(m.toString()).toContain('Content-Length: 2\r\n\r\nhi');
  });

  it('treats a datagram of CRLFs as a keep-alive', () => {
    expect(parseDatagram(Buffer.from('\r\n\r\n')).kind).toBe('keepalive');
  });

  it('rejects a truncated header block and random bytes', () => {
    expect(rejected(INVITE.subarray(0, 100))).toBe(true);
    const random = Buffer.alloc(300);
    for (let i = 0; i < random.length; i++) random[i] = (i * 7919 + 13) % 256;
    expect(parseDatagram(random).kind).toBe('malformed');
  });
});

describe('header fields', () => {
  it('matches names case-insensitively and expands compact forms', () => {
    const m = parse(sip(['OPTIONS sip:b@b SIP/2.0', 'v: SIP/2.0/TCP a.example.com;branch=z9hG4bKc', 'T: <sip:b@b>', 'F: <sip:a@a>;tag=9', 'I: compact-id', 'cseq: 7 OPTIONS', 'm: <sip:a@10.0.0.1>', 'k: path', 'l: 0']));
    expect(m.callId).toBe('compact-id');
    expect(m.header('Call-ID')).toBe('compact-id');
    expect(m.header('CALL-ID')).toBe('compact-id');
    expect(m.header('i')).toBe('compact-id');
    expect(m.header('contact')).toBe('<sip:a@10.0.0.1>');
    expect(m.header('Supported')).toBe('path');
    expect(m.topVia?.transport).toBe('TCP');
    expect(m.fromTag).toBe('9');
  });

  it('handles comma-separated Via values on one line as a list (as sipp writes them)', () => {
    const m = parse(sip(['BYE sip:b@b SIP/2.0', 'Via: SIP/2.0/UDP first.example.com;branch=z9hG4bK1, SIP/2.0/UDP second.example.com:5070;branch=z9hG4bK2', 'Via: SIP/2.0/UDP third;branch=z9hG4bK3', 'To: <sip:b@b>;tag=2', 'From: <sip:a@a>;tag=1', 'Call-ID: c', 'CSeq: 2 BYE', 'Content-Length: 0']));
    expect(m.headerValues('via')).toHaveLength(3);
    expect(m.topVia?.host).toBe('first.example.com');
    expect(m.removeTopVia()).toContain('first.example.com');
    expect(m.topVia?.host).toBe('second.example.com');
    expect(m.topVia?.port).toBe(5070);
    m.removeTopVia();
    expect(m.topVia?.host).toBe('third');
    m.prependVia('SIP/2.0/UDP lb;branch=z9hG4bKlb');
    expect(m.headerValues('v')).toEqual(['SIP/2.0/UDP lb;branch=z9hG4bKlb', 'SIP/2.0/UDP third;branch=z9hG4bK3']);
  });

  it('does not split a list inside quotes or angle brackets', () => {
    expect(splitList('"Doe, John" <sip:j@x;a=1,2>;q=1, <sip:k@y>')).toEqual(['"Doe, John" <sip:j@x;a=1,2>;q=1', '<sip:k@y>']);
  });

  it('joins folded lines and keeps them byte-exact on output', () => {
    const buf = sip(['OPTIONS sip:b@b SIP/2.0', 'Via: SIP/2.0/UDP a;branch=z9hG4bK1', 'Subject: I know you are there,', '     pick up the phone', '\tand talk to me!', 'To: <sip:b@b>', 'From: <sip:a@a>;tag=1', 'Call-ID: fold', 'CSeq: 1 OPTIONS', 'Content-Length: 0']);
    const m = parse(buf);
    expect(m.header('subject')).toBe('I know you are there, pick up the phone and talk to me!');
    m.setMaxForwards(70);
    expect(m.toString()).toContain('Subject: I know you are there,\r\n     pick up the phone\r\n\tand talk to me!\r\n');
  });

  it('keeps any byte of a header value (latin1 round trip)', () => {
    const raw = Buffer.from('X-Bytes: \u00ff\u00fe\u0080 caf\u00e9', 'latin1');
    const buf = Buffer.concat([
      Buffer.from('OPTIONS sip:b@b SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n', 'latin1'),
      raw,
      Buffer.from('\r\nTo: <sip:b@b>\r\nFrom: <sip:a@a>;tag=1\r\nCall-ID: bytes\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n', 'latin1'),
    ]);
    const m = parse(buf);
    m.setMaxForwards(10);
    expect(m.toBuffer().includes(raw)).toBe(true);
  });

  it('edits: Request-URI, Max-Forwards, Route pop/push, Record-Route, add/remove headers', () => {
    const m = parse(sip(['INVITE sip:lb@10.0.0.1:5060 SIP/2.0', 'Via: SIP/2.0/UDP a;branch=z9hG4bK1', 'Route: <sip:10.0.0.1:5060;lr>, <sip:proxy.example.com;lr>', 'To: <sip:b@b>', 'From: <sip:a@a>;tag=1', 'Call-ID: e', 'CSeq: 1 INVITE', 'Max-Forwards: 5', 'X-Old: 1', 'Content-Length: 0']));
    m.setRequestUri('sip:lb@10.0.0.2:5070');
    m.setMaxForwards(m.maxForwards! - 1);
    expect(m.removeFirstListValue('route')).toBe('<sip:10.0.0.1:5060;lr>');
    m.prependListValue('Route', '<sip:10.0.0.9;lr>');
    m.prependListValue('Record-Route', '<sip:10.0.0.1;lr>');
    m.removeHeader('x-old');
    m.addHeader('X-New', 'yes');
    const out = parse(m.toBuffer());
    expect(out.requestUri).toBe('sip:lb@10.0.0.2:5070');
    expect(out.maxForwards).toBe(4);
    expect(out.headerValues('route')).toEqual(['<sip:10.0.0.9;lr>', '<sip:proxy.example.com;lr>']);
    expect(out.header('record-route')).toBe('<sip:10.0.0.1;lr>');
    expect(out.header('x-old')).toBeUndefined();
    expect(out.header('x-new')).toBe('yes');
    // Untouched lines are written back exactly.
    expect(m.toString()).toContain('\r\nCall-ID: e\r\nCSeq: 1 INVITE\r\n');
  });
});

describe('stream framing', () => {
  function collect(max = 65536) {
    const messages: SipMessage[] = [];
    const events: string[] = [];
    const framer = new StreamFramer(max, {
      message: (m) => messages.push(m),
      ping: () => events.push('ping'),
      malformed: (e) => events.push(`malformed:${e}`),
      fatal: (e) => events.push(`fatal:${e}`),
    });
    return { framer, messages, events };
  }

  it('frames several messages in one chunk', () => {
    const { framer, messages } = collect();
    framer.push(Buffer.concat([INVITE, INVITE, INVITE]));
    expect(messages).toHaveLength(3);
    for (const m of messages) expect(m.toBuffer().equals(INVITE)).toBe(true);
  });

  it('frames a message split across chunks at every byte', () => {
    for (let cut = 1; cut < INVITE.length; cut++) {
      const { framer, messages, events } = collect();
      framer.push(INVITE.subarray(0, cut));
      framer.push(Buffer.concat([INVITE.subarray(cut), INVITE.subarray(0, 10)]));
      expect(messages, `cut at ${cut}`).toHaveLength(1);
      expect(messages[0]!.body.toString()).toBe(SDP);
      expect(events).toEqual([]);
      expect(framer.buffered).toBe(10);
    }
  });

  it('frames a message fed one byte at a time', () => {
    const { framer, messages } = collect();
    for (let i = 0; i < INVITE.length; i++) framer.push(INVITE.subarray(i, i + 1));
    expect(messages).toHaveLength(1);
  });

  it('answers a double-CRLF ping, ignores a single-CRLF pong, between messages', () => {
    const { framer, messages, events } = collect();
    framer.push(Buffer.from('\r\n\r\n'));
    expect(events).toEqual(['ping']);
    framer.push(Buffer.from('\r\n'));
    framer.push(INVITE);
    expect(events).toEqual(['ping']);
    expect(messages).toHaveLength(1);
    framer.push(Buffer.from('\r\n'));
    framer.push(Buffer.from('\r\n'));
    expect(events).toEqual(['ping', 'ping']);
  });

  it('closes the stream past the maximum message size (headers never ending, or a huge Content-Length)', () => {
    const a = collect(1024);
    a.framer.push(Buffer.alloc(2000, 'A'));
    expect(a.events).toEqual(['fatal:message larger than 1024 bytes']);
    const b = collect(1024);
    b.framer.push(sip(['MESSAGE sip:b@b SIP/2.0', 'Via: SIP/2.0/TCP a;branch=z9hG4bK1', 'To: <sip:b@b>', 'From: <sip:a@a>;tag=1', 'Call-ID: big', 'CSeq: 1 MESSAGE', 'Content-Length: 5000']));
    expect(b.events).toEqual(['fatal:message larger than 1024 bytes']);
  });

  it('skips a malformed message of known length and goes on', () => {
    const { framer, messages, events } = collect();
    const bad = sip(['OPTIONS sip:b@b SIP/2.0', 'Via: SIP/2.0/TCP a;branch=z9hG4bK1', 'CSeq: 1 OPTIONS', 'Content-Length: 3'], 'abc');
    framer.push(Buffer.concat([bad, INVITE]));
    expect(events).toEqual(['malformed:missing or repeated Call-ID, CSeq, From or To']);
    expect(messages).toHaveLength(1);
  });

  it('frames any split of a stream of messages the same as the whole stream', () => {
    const stream = Buffer.concat([INVITE, Buffer.from('\r\n\r\n'), INVITE, Buffer.from('\r\n'), INVITE]);
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 200; round++) {
      const { framer, messages, events } = collect();
      for (let i = 0; i < stream.length; ) {
        const len = 1 + Math.floor(rand() * (round % 2 ? 8 : 300));
        framer.push(stream.subarray(i, i + len));
        i += len;
      }
      expect(messages).toHaveLength(3);
      for (const m of messages) expect(m.toBuffer().equals(INVITE)).toBe(true);
      expect(events).toEqual(['ping']);
      expect(framer.buffered).toBe(0);
    }
  });

  it('costs work linear in the bytes of a 60 KB message fed one byte at a time (finding 3)', () => {
    const headers = Array.from({ length: 200 }, (_, i) => `X-Filler-${i}: ${'h'.repeat(100)}`);
    const body = 'b'.repeat(35_000);
    const big = sip(['MESSAGE sip:b@b SIP/2.0', 'Via: SIP/2.0/TCP a;branch=z9hG4bK1', 'To: <sip:b@b>', 'From: <sip:a@a>;tag=1', 'Call-ID: big', 'CSeq: 1 MESSAGE', ...headers, `Content-Length: ${body.length}`], body);
    expect(big.length).toBeGreaterThan(55_000);
    const { framer, messages, events } = collect(65_536);
    for (let i = 0; i < big.length; i++) framer.push(big.subarray(i, i + 1));
    expect(events).toEqual([]);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.toBuffer().equals(big)).toBe(true);
    // Copying or rescanning the whole buffer per byte would be ~big.length²/2 ≈ 1.6 G bytes; linear work
    // stays a small constant times the size (a byte-sized push rescans the 3 bytes before it).
    expect(framer.work.copied).toBeLessThan(4 * big.length);
    expect(framer.work.scanned).toBeLessThan(8 * big.length);
  });

  it('costs linear work on a start line that never ends, up to the size limit', () => {
    const { framer, events } = collect(65_536);
    const a = Buffer.from('A');
    for (let i = 0; i < 70_000 && events.length === 0; i++) framer.push(a);
    expect(events).toEqual(['fatal:message larger than 65536 bytes']);
    expect(framer.work.copied).toBeLessThan(4 * 65_536);
    expect(framer.work.scanned).toBeLessThan(8 * 65_536);
  });

  it('tells since when an unfinished message waits, not counting a keep-alive CRLF', () => {
    const { framer } = collect();
    framer.push(Buffer.from('\r\n'));
    expect(framer.pendingSince).toBe(0);
    framer.push(INVITE.subarray(0, 10));
    expect(framer.pendingSince).toBeGreaterThan(0);
    framer.push(INVITE.subarray(10));
    expect(framer.pendingSince).toBe(0);
  });

  it('closes the stream on garbage it cannot frame', () => {
    const { framer, events } = collect();
    framer.push(Buffer.from('\x00\x01 not sip at all\r\n\r\n'));
    expect(events[0]).toMatch(/^fatal:/);
  });
});

describe('URIs', () => {
  it('parses sip URIs with user, port, parameters and headers', () => {
    expect(parseUri('sip:alice:secret@[2001:db8::1]:5070;transport=tcp;lr?Subject=x')).toEqual({
      scheme: 'sip', user: 'alice', host: '[2001:db8::1]', port: 5070, params: ';transport=tcp;lr', headers: '?Subject=x',
    });
    expect(parseUri('sip:10.0.0.1;lr;node_host=10.0.0.2;node_port=5070')?.params).toBe(';lr;node_host=10.0.0.2;node_port=5070');
    expect(parseUri('tel:+1-201-555-0123;phone-context=x')?.user).toBe('+1-201-555-0123');
    expect(parseUri('sip:host:99999')).toBeUndefined();
  });

  it('reads name-addr values and their tag', () => {
    expect(uriOfNameAddr('"A, B" <sip:a@b;lr>;tag=1')).toBe('sip:a@b;lr');
    expect(uriOfNameAddr('sip:a@b;tag=1')).toBe('sip:a@b');
    expect(headerParam('"A;tag=no" <sip:a@b;tag=no>;tag=yes', 'tag')).toBe('yes');
    expect(headerParam('sip:a@b ; TAG = 77', 'tag')).toBe('77');
    expect(userOfUri('sips:bob@example.com')).toBe('bob');
  });

  it('parses Via values with the linear whitespace the grammar allows', () => {
    expect(parseVia('SIP / 2.0 / UDP  192.0.2.2 ; rport ; branch = z9hG4bKx')).toMatchObject({ transport: 'UDP', host: '192.0.2.2', branch: 'z9hG4bKx', rport: '' });
    expect(parseVia('SIP/2.0/TCP [::1]:5061;received=::1')).toMatchObject({ host: '[::1]', port: 5061, received: '::1' });
    expect(parseVia('garbage')).toBeUndefined();
  });
});

// RFC 4475 (SIP Torture Test Messages), section 3.1.1: valid messages that must parse.
describe('RFC 4475 valid messages parse', () => {
  it('3.1.1.1 wsinv: a short tortuous INVITE', () => {
    const m = parse(sip([
      'INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0',
      'TO :',
      ' sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n',
      'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>',
      '  ;',
      '  tag = 98asjd8',
      'MaX-fOrWaRdS: 0068',
      'Call-ID: wsinv.ndaksdj@192.0.2.1',
      'Content-Length   : {CL}',
      'cseq: 0009',
      '  INVITE',
      'Via  : SIP  /   2.0',
      ' /UDP',
      '    192.0.2.2;rport;branch=390skdjuw',
      's :',
      'NewFangledHeader:   newfangled value',
      ' continued newfangled value',
      'UnknownHeaderWithUnusualValue: ;;,,;;,;',
      'Content-Type: application/sdp',
      'Route:',
      ' <sip:services.example.com;lr;unknownwith=value;unknown-no-value>',
      'v:  SIP  / 2.0  / TCP     spindle.example.com   ;',
      '  branch  =   z9hG4bK9ikj8  ,',
      ' SIP  /    2.0   / UDP  192.168.255.111   ; branch=',
      ' z9hG4bK30239',
      'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =',
      '      newvalue ;',
      '  secondparam ; q = 0.33',
    ], SDP));
    expect(m.method).toBe('INVITE');
    expect(m.maxForwards).toBe(68);
    expect(m.cseq).toEqual({ num: 9, method: 'INVITE' });
    expect(m.toTag).toBe('1918181833n');
    expect(m.fromTag).toBe('98asjd8');
    expect(m.topVia).toMatchObject({ transport: 'UDP', host: '192.0.2.2', branch: '390skdjuw' });
    expect(m.headerValues('via')).toHaveLength(3);
    expect(m.header('NewFangledHeader')).toBe('newfangled value continued newfangled value');
    expect(uriOfNameAddr(m.header('route')!)).toBe('sip:services.example.com;lr;unknownwith=value;unknown-no-value');
    expect(m.body.toString()).toBe(SDP);
  });

  it('3.1.1.2 intmeth: wide range of valid characters', () => {
    const m = parse(sip([
      "!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0",
      "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~",
      'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7F" <sip:1_unusual.URI~(to-be!sure)&isn\'t+it$/crazy?,/;;*@example.com>',
      "From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"\u00d1\u0080\u00d0\u00b0\u00d0\u00b1\u00d0\u00be\u00d1\u0082\u00d0\u00b0\u00d1\u008e\u00d1\u0089\u00d0\u00b8\u00d0\u00b9\";tag=_token~1'+`*%!-.",
      'Call-ID: intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{',
      "CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~",
      'Max-Forwards: 255',
      "extensionHeader-!.%*+_`'~: \u00ef\u00bb\u00bf\u00e5\u00a4\u00a7\u00e5\u0081\u009c\u00e9\u009b\u00bb",
      'Content-Length: 0',
    ]));
    expect(m.method).toBe("!interesting-Method0123456789_*+`.%indeed'~");
    expect(m.fromTag).toBe("_token~1'+`*%!-.");
    expect(m.topVia?.branch).toBe("z9hG4bK-.!%66*_+`'~");
    expect(m.callId).toBe('intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{');
    expect(m.toBuffer().toString('latin1')).toContain('BEL:\\\x07 NUL:\\\x00 DEL:\\\x7F');
  });

  it('3.1.1.3 esc01: valid use of the % escaping mechanism', () => {
    const m = parse(sip([
      'INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0',
      'To: sip:%75se%72@example.com',
      'From: <sip:I%20have%20spaces@example.net>;tag=938',
      'Max-Forwards: 87',
      'i: esc01.239409asdfakjkn23onasd0-3234',
      'CSeq: 234234 INVITE',
      'Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw',
      'C: application/sdp',
      'Contact:',
      '  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>',
      'Content-Length: {CL}',
    ], SDP));
    expect(m.callId).toBe('esc01.239409asdfakjkn23onasd0-3234');
    expect(parseUri(m.requestUri)).toMatchObject({ user: 'sips%3Auser%40example.com', host: 'example.net' });
    expect(m.fromUser).toBe('I%20have%20spaces');
  });

  it('3.1.1.4 escnull: escaped nulls in URIs', () => {
    const m = parse(sip([
      'REGISTER sip:example.com SIP/2.0',
      'To: sip:null-%00-null@example.com',
      'From: sip:null-%00-null@example.com;tag=839923423',
      'Max-Forwards: 70',
      'Call-ID: escnull.39203ndfvkjdasfkq3w4otrq0adsf0',
      'CSeq: 3923239 REGISTER',
      'Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bKkdjuw',
      'Contact: <sip:%00@host5.example.com>',
      'Contact: <sip:%00%00@host5.example.com>',
      'L:0',
    ]));
    expect(m.headerValues('contact')).toHaveLength(2);
    expect(m.fromTag).toBe('839923423');
  });

  it('3.1.1.5 esc02: use of % when it is not an escape', () => {
    const m = parse(sip([
      'RE%47IST%45R sip:registrar.example.com SIP/2.0',
      'To: "%Z%45" <sip:resource@example.com>',
      'From: "%Z%45" <sip:resource@example.com>;tag=f232jadfj23',
      'Call-ID: esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf',
      'Via: SIP/2.0/TCP host.example.com;rport;branch=z9hG4bK209%fzsnel234',
      'CSeq: 29344 RE%47IST%45R',
      'Max-Forwards: 70',
      'Contact: <sip:alias1@host1.example.com>',
      'C%6Fntact: <sip:alias2@host2.example.com>',
      'Contact: <sip:alias3@host3.example.com>',
      'l: 0',
    ]));
    expect(m.method).toBe('RE%47IST%45R');
    expect(m.headerValues('contact')).toHaveLength(2);
    expect(m.header('C%6Fntact')).toBe('<sip:alias2@host2.example.com>');
  });

  it('3.1.1.6 lwsdisp: no LWS between display name and <', () => {
    const m = parse(sip(['OPTIONS sip:user@example.com SIP/2.0', 'To: sip:user@example.com', 'From: caller<sip:caller@example.com>;tag=323', 'Max-Forwards: 70', 'Call-ID: lwsdisp.1234abcd@funky.example.com', 'CSeq: 60 OPTIONS', 'Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw', 'l: 0']));
    expect(m.fromUri).toBe('sip:caller@example.com');
    expect(m.fromTag).toBe('323');
  });

  it('3.1.1.7 longreq: long values in header fields', () => {
    const long = 'amazinglylongcallid'.repeat(40);
    const vias = Array.from({ length: 30 }, (_, i) => `Via: SIP/2.0/TCP sip${i}.example.com:5060;branch=z9hG4bK${'b'.repeat(200)}${i}`);
    const m = parse(sip([
      `INVITE sip:user@example.com SIP/2.0`,
      `To: "I have a user name of ${'extreme'.repeat(40)} proportion"<sip:user@example.com:6000;unknownparam1=verylonguzzzzzzzzzz${'z'.repeat(300)};longparamnamezzz${'z'.repeat(200)}=shortvalue>`,
      `From: sip:${'a'.repeat(300)}@example.net;tag=12${'9'.repeat(300)}`,
      `Call-ID: ${long}`,
      'CSeq: 13 INVITE',
      ...vias,
      'Max-Forwards: 70',
      `Contact: <sip:${'a'.repeat(300)}@host5.example.net>`,
      'Content-Type: application/sdp',
      'l: {CL}',
    ], SDP));
    expect(m.callId).toBe(long);
    expect(m.headerValues('via')).toHaveLength(30);
    expect(m.topVia?.host).toBe('sip0.example.com');
  });

  it('3.1.1.8 dblreq: extra trailing octets in a UDP datagram are discarded', () => {
    const first = sip(['REGISTER sip:example.com SIP/2.0', 'To: sip:j.user@example.com', 'From: sip:j.user@example.com;tag=43251j3j324', 'Max-Forwards: 8', 'I: dblreq.0ha0isndaksdj99sdfafnl3lk233412', 'Contact: sip:j.user@host.example.com', 'CSeq: 8 REGISTER', 'Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492', 'Content-Length: 0']);
    const second = sip(['INVITE sip:joe@example.com SIP/2.0', 't: sip:joe@example.com', 'From: sip:caller@example.net;tag=141334', 'Max-Forwards: 8', 'Call-ID: dblreq.0ha0isnda977644900765@192.0.2.15', 'CSeq: 8 INVITE', 'Via: SIP/2.0/UDP 192.0.2.15;branch=z9hG4bKkdjuw380234', 'Content-Type: application/sdp', 'Content-Length: {CL}'], SDP);
    const m = parse(Buffer.concat([first, second]));
    expect(m.method).toBe('REGISTER');
    expect(m.toBuffer().equals(first)).toBe(true);
  });

  it('3.1.1.9 semiuri: semicolon-separated parameters in the user part', () => {
    const m = parse(sip(['OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0', 'To: sip:j_user@example.com', 'From: sip:caller@example.org;tag=33242', 'Max-Forwards: 3', 'Call-ID: semiuri.0ha0isndaksdj', 'CSeq: 8 OPTIONS', 'Accept: application/sdp, application/pkcs7-mime,', '        multipart/mixed, multipart/signed,', '        message/sip, message/sipfrag', 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw', 'l: 0']));
    expect(parseUri(m.requestUri)).toMatchObject({ user: 'user;par=u%40example.net', host: 'example.com' });
  });

  it('3.1.1.10 transports: Via with SCTP, TLS and an unknown transport', () => {
    const m = parse(sip(['OPTIONS sip:user@example.com SIP/2.0', 'To: sip:user@example.com', 'From: <sip:caller@example.com>;tag=323', 'Max-Forwards: 70', 'Call-ID:  transports.kijh4akdnaqjkwendsasfdj', 'Accept: application/sdp', 'CSeq: 60 OPTIONS', 'Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw', 'Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf', 'Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj', 'Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en', 'Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee', 'l: 0']));
    expect(m.headerValues('via').map((v) => parseVia(v)?.transport)).toEqual(['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);
  });

  it('3.1.1.11 mpart01: a multipart MIME body is carried byte for byte', () => {
    const body = ['--P7', 'Content-Type: application/sdp', '', 'v=0', '--P7', 'Content-Type: application/pkcs7-signature', 'Content-Transfer-Encoding: binary', '', '\u00a0\u00ff binary', '--P7--', ''].join('\r\n');
    const m = parse(sip(['MESSAGE sip:kumiko@example.org SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-;rport', 'Max-Forwards: 70', 'Route: <sip:127.0.0.1:5080>', 'Identity: r5mwreLuyDRYBi/0TiPwEsY3rEVsk/G2WxhgTV1PF7hHuL', 'Contact: <sip:fluffy@127.0.0.1:5070>', 'To: <sip:kumiko@example.org>', 'From: <sip:fluffy@example.com>;tag=2fb0dcc9', 'Call-ID: 3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..', 'CSeq: 1 MESSAGE', 'Content-Transfer-Encoding: binary', 'Content-Type: multipart/mixed;boundary=P7', 'Content-Length: {CL}'], body));
    expect(m.body.toString('utf8')).toBe(body);
  });

  it('3.1.1.12 unreason: unusual reason phrase (UTF-8)', () => {
    const m = parse(Buffer.from(['SIP/2.0 200 = 2**3 * 5**2 \u00d0\u00bd\u00d0\u00be \u00d1\u0081\u00d1\u0082\u00d0\u00be', 'Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1324923', 'Call-ID: unreason.1234ksdfak3j2erwedfsASdf', 'CSeq: 35 INVITE', 'From: sip:user@example.com;tag=11141343', 'To: sip:user@example.edu;tag=2229', 'Content-Length: 0', '', ''].join('\r\n'), 'latin1'));
    expect(m.status).toBe(200);
    expect(m.reason.startsWith('= 2**3')).toBe(true);
  });

  it('3.1.1.13 noreason: empty reason phrase', () => {
    const m = parse(sip(['SIP/2.0 100 ', 'Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe', 'Call-ID: noreason.asndj203insdf99223ndf', 'CSeq: 35 INVITE', 'From: <sip:user@example.com>;tag=39ansfi3', 'To: <sip:user@example.edu>;tag=902jndnke3', 'Content-Length: 0']));
    expect(m.status).toBe(100);
    expect(m.reason).toBe('');
  });

  it('3.3.x inv2543 and unknown schemes: RFC 2543 requests and non-sip URIs still parse', () => {
    const m = parse(sip(['INVITE sip:UserB@example.com SIP/2.0', 'Via: SIP/2.0/UDP iftgw.example.com', 'From: <sip:+13035551111@ift.client.example.net;user=phone>', 'Record-Route: <sip:UserB@example.com;maddr=ss1.example.com>', 'To: sip:+16505552222@ss1.example.net;user=phone', 'Call-ID: inv2543.1717@ift.client.example.com', 'CSeq: 56 INVITE', 'Content-Type: application/sdp', 'Content-Length: {CL}'], SDP));
    expect(m.topVia?.branch).toBeUndefined();
    expect(parse(sip(['OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0', 'To: sip:user@example.com', 'From: sip:caller@example.net;tag=384', 'Max-Forwards: 3', 'Call-ID: unkscm.nasdfasser0q239nwsdfasdkl34', 'CSeq: 3923423 OPTIONS', 'Via: SIP/2.0/TCP host9.example.com;branch=z9hG4bKkdjuw39234', 'Content-Length: 0'])).requestUri).toBe('nobodyKnowsThisScheme:totallyopaquecontent');
  });

  it('3.3.x zeromf: Max-Forwards of zero reads as 0', () => {
    const m = parse(sip(['OPTIONS sip:user@example.com SIP/2.0', 'To: sip:user@example.com', 'From: sip:caller@example.net;tag=3ghsd41', 'Call-ID: zeromf.jfasdlfnm2o2l43r5u0asdfas', 'CSeq: 39234321 OPTIONS', 'Via: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw2349i', 'Max-Forwards: 0', 'Content-Length: 0']));
    expect(m.maxForwards).toBe(0);
  });
});

// RFC 4475 section 3.1.2: invalid messages. The framer must reject them or pass them through, never throw.
describe('RFC 4475 invalid messages are rejected or passed through without a crash', () => {
  const base = (first: string, extra: string[] = [], cseq = 'CSeq: 1 INVITE'): Buffer =>
    sip([first, 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx', 'To: sip:user@example.com', 'From: sip:caller@example.net;tag=1', 'Call-ID: torture', cseq, 'Max-Forwards: 70', ...extra, 'Content-Length: 0']);

  const mustReject: [string, Buffer][] = [
    ['3.1.2.1 badinv01: extraneous header field separators', sip(['INVITE sip:user@example.com SIP/2.0', 'To: sip:j.user@example.com', 'From: sip:caller@example.net;;tag=134161461246', 'Max-Forwards: 7', 'Call-ID: badinv01.0ha0isndaksdjasdf3234nas', 'CSeq: 8 INVITE', 'Via: SIP/2.0/UDP 192.0.2.15;;,;,,', 'Contact: "Joe" <sip:joe@example.org>;;;;', 'Content-Length: 0'])],
    ['3.1.2.2 clerr: Content-Length larger than the message', sip(['INVITE sip:user@example.com SIP/2.0', 'Max-Forwards: 80', 'To: sip:j.user@example.com', 'From: sip:caller@example.net;tag=93942939o2', 'Contact: <sip:caller@hungry.example.net>', 'Call-ID: clerr.0ha0isndaksdjweiafasdk3', 'CSeq: 8 INVITE', 'Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523', 'Content-Type: application/sdp', 'Content-Length: 9999'], SDP)],
    ['3.1.2.3 ncl: negative Content-Length', sip(['INVITE sip:user@example.com SIP/2.0', 'Max-Forwards: 254', 'To: sip:j.user@example.com', 'From: sip:caller@example.net;tag=32394234', 'Call-ID: ncl.0ha0isndaksdj2193423r542w35', 'CSeq: 0 INVITE', 'Via: SIP/2.0/UDP 192.0.2.53;branch=z9hG4bKkdjuw', 'Contact: <sip:caller@example53.example.net>', 'Content-Type: application/sdp', 'Content-Length: -999'], SDP)],
    ['3.1.2.4 scalar02: overlarge CSeq', base('REGISTER sip:example.com SIP/2.0', ['Expires: 10000000000000000000'], 'CSeq: 36893488147419103232 REGISTER')],
    ['3.1.2.5 scalarlg: response with overlarge CSeq', sip(['SIP/2.0 503 Service Unavailable', 'Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKzzxdiwo34sw;received=192.0.2.129', 'To: <sip:user@example.com>', 'From: <sip:other@example.net>;tag=2easdjfejw', 'CSeq: 36893488147419103232 INVITE', 'Call-ID: scalarlg.noase0of0234hn2qofoaf0232aewf2394r', 'Retry-After: 949302838503028349304023988', 'Warning: 1812 overture "In Progress"', 'Content-Length: 0'])],
    ['3.1.2.7 ltgtruri: <> enclosing the Request-URI', base('INVITE <sip:user@example.com> SIP/2.0')],
    ['3.1.2.8 lwsruri: LWS within the Request-URI', base('INVITE sip:user@example.com; lr SIP/2.0')],
    ['3.1.2.9 lwsstart: multiple SP separating the Request-Line elements', base('INVITE  sip:user@example.com  SIP/2.0')],
    ['3.1.2.10 trws: SP characters at the end of the Request-Line', base('OPTIONS sip:remote-target@example.com SIP/2.0  ', [], 'CSeq: 1 OPTIONS')],
    ['3.1.2.16 badvers: unknown protocol version', base('OPTIONS sip:t.watson@example.org SIP/7.0', [], 'CSeq: 1 OPTIONS')],
    ['3.1.2.17 mismatch01: start line and CSeq method mismatch', base('OPTIONS sip:user@example.com SIP/2.0', [], 'CSeq: 8 INVITE')],
    ['3.1.2.18 mismatch02: unknown method with CSeq method mismatch', base('NEWMETHOD sip:user@example.com SIP/2.0', [], 'CSeq: 8 INVITE')],
    ['3.1.2.19 bigcode: overlarge response code', sip(['SIP/2.0 4294967301 better not break the receiver', 'Via: SIP/2.0/UDP 192.0.2.105;branch=z9hG4bK2398ndaoe', 'Call-ID: bigcode.asdof3uj203asdnf3429uasdhfas3ehjasdfas9i', 'CSeq: 353494 INVITE', 'From: <sip:user@example.com>;tag=39ansfi3', 'To: <sip:user@example.edu>;tag=902jndnke3', 'Content-Length: 0'])],
    ['3.3.x insuf: missing required header fields', sip(['INVITE sip:user@example.com SIP/2.0', 'CSeq: 193942 INVITE', 'Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf', 'Content-Type: application/sdp', 'l: {CL}'], SDP)],
    ['3.3.x multi01: multiple values in single-value required fields', sip(['INVITE sip:user@company.com SIP/2.0', 'Contact: <sip:caller@host25.example.net>', 'Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKvbtbsfd', 'Max-Forwards: 70', 'CSeq: 5 INVITE', 'Call-ID: multi01.98asdh@192.0.2.1', 'CSeq: 59 INVITE', 'Call-ID: multi01.98asdh@192.0.2.2', 'From: sip:caller@example.com;tag=3413415', 'To: sip:user@example.com', 'To: sip:other@example.net', 'From: sip:caller@example.net;tag=2923420123', 'Content-Type: application/sdp', 'l: {CL}'], SDP)],
    ['3.3.x mcl01: multiple conflicting Content-Length values', sip(['OPTIONS sip:user@example.com SIP/2.0', 'Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bK293423', 'To: sip:user@example.com', 'From: sip:other@example.net;tag=3923942', 'Call-ID: mcl01.fhn2323orihawfdoa3o4r52o3irsdf', 'CSeq: 15932 OPTIONS', 'Content-Length: 13', 'Max-Forwards: 60', 'Content-Length: 5', 'Content-Type: text/plain'], 'There\'s no way to know how many octets are supposed to be here.')],
  ];
  for (const [name, buf] of mustReject) {
    it(`${name}: rejected`, () => {
      const r = parseDatagram(buf);
      // badinv01 frames, but its Via cannot be read: the forwarder drops it as malformed.
      if (r.kind === 'message') expect(r.message.topVia).toBeUndefined();
      else expect(r.kind).toBe('malformed');
    });
  }

  const passThrough: [string, Buffer | string][] = [
    ['3.1.2.6 quotbal: unterminated quoted string in a display name', base('INVITE sip:user@example.com SIP/2.0', ['Contact: <sip:caller@host5.example.net>']).toString('latin1').replace('To: sip:user@example.com', 'To: "Mr. J. User <sip:j.user@example.com>')],
    ['3.1.2.11 escruri: escaped headers in the Request-URI', base('INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0')],
    ['3.1.2.12 baddate: invalid time zone in a Date header', base('INVITE sip:user@example.com SIP/2.0', ['Date: Fri, 01 Jan 2010 16:00:00 EST'])],
    ['3.1.2.13 regbadct: unquoted URI with a ? in Contact', base('REGISTER sip:example.com SIP/2.0', ['Contact: sip:user@example.com?Route=%3Csip:sip.example.com%3E'], 'CSeq: 1 REGISTER')],
    ['3.1.2.14 badaspec: spaces inside < >', base('OPTIONS sip:user@example.org SIP/2.0', ['Contact: < sip:t.watson@ieee.org >'], 'CSeq: 1 OPTIONS')],
    ['3.1.2.15 baddn: unquoted comma in a display name', base('OPTIONS sip:t.watson@example.org SIP/2.0', ['Contact: Bell, Alexander <sip:a.g.bell@bell-tel.com>;tag=43'], 'CSeq: 1 OPTIONS')],
    ['3.1.2.x badbranch: quotes in a branch', sip(['OPTIONS sip:user@example.com SIP/2.0', 'To: sip:user@example.com', 'From: sip:caller@example.org;tag=33242', 'Max-Forwards: 3', 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK"quoted"', 'Call-ID: badbranch.sadonfo23i420jv0as0derf3j3n', 'CSeq: 8 OPTIONS', 'l: 0'])],
  ];
  for (const [name, value] of passThrough) {
    it(`${name}: passed through without a crash`, () => {
      const buf = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
      const r = parseDatagram(buf);
      if (r.kind === 'message') {
        const m = r.message;
        expect(() => [m.fromUri, m.toUri, m.toTag, m.fromUser, m.topVia, m.headerValues('contact'), parseUri(m.requestUri)]).not.toThrow();
        m.setMaxForwards(1);
        expect(parseMessage(m.toBuffer()).callId).toBe(m.callId);
      } else expect(r.kind).toBe('malformed');
    });
  }
});
