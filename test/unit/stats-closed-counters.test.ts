// Per-method and per-status counters keep a closed set of labels whatever peers send (issue 16, finding 2).

import { describe, expect, it } from 'vitest';
import { SipStats } from '../../src/sip/sip-stats.js';
import { HttpStats } from '../../src/http/http-stats.js';

describe('closed-set counters', () => {
  it('counts RFC SIP methods by name and every invented one as other', () => {
    const s = new SipStats();
    s.requestsByMethod.inc('INVITE');
    for (let i = 0; i < 1000; i++) s.requestsByMethod.inc(`FOO${i}`);
    expect(s.requestsByMethod.toJSON()).toEqual({ INVITE: 1, other: 1000 });
    expect(s.requestsByMethod.get('FOO7')).toBe(1000);
  });

  it('counts registered SIP codes by number, others by class', () => {
    const s = new SipStats();
    s.responsesByStatus.inc(200);
    s.responsesByStatus.inc(486);
    for (let c = 100; c < 700; c++) s.responsesByStatus.inc(c);
    const labels = Object.keys(s.responsesByStatus.toJSON());
    expect(labels.length).toBeLessThan(90);
    expect(s.responsesByStatus.get(200)).toBe(2);
    expect(s.responsesByStatus.get(299)).toBe(s.responsesByStatus.get('2xx'));
  });

  it('does the same for HTTP methods and statuses', () => {
    const h = new HttpStats();
    h.requestsByMethod.inc('GET');
    h.requestsByMethod.inc('BREW');
    h.responsesByStatus.inc(0);
    h.responsesByStatus.inc(599);
    h.responsesByStatus.inc(404);
    expect(h.requestsByMethod.toJSON()).toEqual({ GET: 1, other: 1 });
    expect(h.responsesByStatus.toJSON()).toEqual({ other: 1, '5xx': 1, 404: 1 });
  });
});
