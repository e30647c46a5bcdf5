// SMPP counters by command id: counted by number on the hot path, read by name in /lbstat and /metrics.

import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { CommandCounterMap, SmppStats } from '../../src/smpp/smpp-stats.js';
import { Cmd } from '../../src/smpp/pdu.js';

describe('CommandCounterMap', () => {
  it('names requests, responses and unknown ids', () => {
    const c = new CommandCounterMap();
    c.incId(Cmd.submit_sm);
    c.incId(Cmd.submit_sm);
    c.incId(Cmd.submit_sm_resp);
    c.incId(Cmd.generic_nack);
    c.incId(0x00012345);
    expect(c.toJSON()).toEqual({ '0x00012345': 1, submit_sm: 2, submit_sm_resp: 1, generic_nack: 1 });
    expect(c.get('submit_sm')).toBe(2);
    expect(c.total()).toBe(5);
  });

  it('shows in /lbstat fields and Prometheus', async () => {
    const stats = new SmppStats();
    stats.requestsByCommand.incId(Cmd.deliver_sm);
    stats.responsesByCommand.incId(Cmd.deliver_sm_resp);
    expect(stats.lbstatFields().SmppRequestsByCommandId).toEqual({ deliver_sm: 1 });
    const registry = new Registry();
    stats.register(registry);
    const text = await registry.metrics();
    expect(text).toContain('sipbalancer_smpp_requests_total{command="deliver_sm"} 1');
    expect(text).toContain('sipbalancer_smpp_responses_total{command="deliver_sm_resp"} 1');
  });
});
