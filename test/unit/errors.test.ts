// The balancer's errors carry stable codes, and drop reasons are a closed set that the counters accept.

import { describe, expect, it } from 'vitest';
import {
  BalancerError,
  ConfigError,
  CustomAlgorithmError,
  ErrorCode,
  HeartbeatError,
  SipDropReason,
  SipParseError,
  SmppRejectReason,
  StartupError,
} from '../../src/errors.js';
import { parseMessage } from '../../src/sip/message.js';
import { SipStats } from '../../src/sip/sip-stats.js';

describe('errors', () => {
  it('gives every error class its own stable code and name', () => {
    const errors = [new ConfigError(['a: b']), new StartupError('x'), new SipParseError('x'), new HeartbeatError('x'), new CustomAlgorithmError('x')];
    expect(errors.map((e) => e.code)).toEqual([ErrorCode.config, ErrorCode.startup, ErrorCode.sipParse, ErrorCode.heartbeat, ErrorCode.customAlgorithm]);
    expect(new Set(errors.map((e) => e.code)).size).toBe(errors.length);
    expect(errors.map((e) => e.name)).toEqual(['ConfigError', 'StartupError', 'SipParseError', 'HeartbeatError', 'CustomAlgorithmError']);
    for (const e of errors) expect(e).toBeInstanceOf(BalancerError);
  });

  it('ConfigError keeps one problem per line', () => {
    const e = new ConfigError(['lb.properties:3: a: bad', 'lb.properties:4: b: bad'], ['w']);
    expect(e.message).toBe('lb.properties:3: a: bad\nlb.properties:4: b: bad');
    expect(e.problems).toHaveLength(2);
    expect(e.warnings).toEqual(['w']);
  });

  it('the SIP parser throws a SipParseError with its code', () => {
    expect(() => parseMessage('not sip at all\r\n\r\n')).toThrow(expect.objectContaining({ code: 'SIPLB_ERR_SIP_PARSE' }));
  });

  it('drop reasons are distinct lowercase codes, as /lbstat shows them', () => {
    for (const set of [SipDropReason, SmppRejectReason]) {
      const values = Object.values(set);
      expect(new Set(values).size).toBe(values.length);
      for (const v of values) expect(v).toMatch(/^[a-z]+(-[a-z]+)*$/);
    }
    const stats = new SipStats();
    stats.dropped.inc(SipDropReason.blocked);
    expect(stats.lbstatFields().SipDroppedByReason).toEqual({ blocked: 1 });
  });
});
