// The reload plan (src/reload/changes.ts): which changed keys apply live and which need a restart, and the
// configuration applied — the new file with the running value of each key that needs a restart.

import { describe, it, expect } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { algorithmChanged, changedKeys, describeChange, needsRestart, planReload } from '../../src/reload/changes.js';
import { parseProperties } from '../../src/config/properties.js';

const BASE = 'host=127.0.0.1\nexternalPort=5060\ninternalPort=5065\nalgorithmClass=round-robin\nlogLevel=info\n';

describe('needsRestart', () => {
  it('names listening points, TLS, workers and the balancer addresses; not algorithm, node or timer keys', () => {
    for (const key of ['externalPort', 'internalTcpPort', 'heartbeatPort', 'statisticPort', 'host', 'workers', 'javax.net.ssl.keyStore', 'tlsClientProtocols', 'publicIp', 'externalIpLoadBalancerAddress', 'securityRequired', 'timeoutEnquire', 'muxMode']) {
      expect(needsRestart(key), key).toBe(true);
    }
    for (const key of ['algorithmClass', 'extraServerNodes', 'staticNodes', 'blockedValues', 'logLevel', 'nodeTimeout', 'maxErrorTime', 'unavailableHost', 'remoteServers', 'configReloadPeriod']) {
      expect(needsRestart(key), key).toBe(false);
    }
  });
});

describe('planReload', () => {
  const running = loadConfigText(BASE, 'lb.properties').config;

  it('applies live keys and keeps the running value of a key that needs a restart', () => {
    const plan = planReload(running, BASE.replace('5060', '5070').replace('round-robin', 'active-standby') + 'blockedValues=x\n', 'lb.properties');
    expect(plan.live.map((c) => c.key)).toEqual(['algorithmClass', 'blockedValues']);
    expect(plan.restart).toEqual([{ key: 'externalPort', before: '5060', after: '5070' }]);
    expect(plan.effective.sip.external.udp).toBe(5060);
    expect(plan.effective.algorithm.name).toBe('active-standby');
    expect(plan.effective.sip.blockedValues).toEqual(['x']);
    expect(plan.loaded.config.sip.external.udp).toBe(5070);
  });

  it('refuses an invalid file with file:line problems', () => {
    let caught: unknown;
    try {
      planReload(running, BASE + 'nodeTimeout=soon\n', '/etc/lb.properties');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).problems[0]).toMatch(/^\/etc\/lb\.properties:6: nodeTimeout=soon: expected a whole number/);
  });

  it('rebuilds the algorithm only when its settings change', () => {
    const same = planReload(running, BASE + 'blockedValues=x\n', 'lb.properties');
    expect(algorithmChanged(running, same.effective)).toBe(false);
    const other = planReload(running, BASE + 'hashRingVirtualNodes=7\n', 'lb.properties');
    expect(algorithmChanged(running, other.effective)).toBe(true);
  });
});

describe('changedKeys and describeChange', () => {
  it('lists added, removed and changed keys, and hides passwords', () => {
    const { props } = parseProperties('a=1\nb=3\npassword=new\n');
    const changes = changedKeys({ a: '1', b: '2', c: '4', password: 'old' }, props);
    expect(changes).toEqual([
      { key: 'b', before: '2', after: '3' },
      { key: 'c', before: '4' },
      { key: 'password', before: 'old', after: 'new' },
    ]);
    expect(changes.map(describeChange)).toEqual(['b: 2 → 3', 'c: 4 → (absent)', 'password: *** → ***']);
  });
});
