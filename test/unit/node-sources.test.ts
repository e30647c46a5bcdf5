// nodeAllowedSources: the CIDR matcher (IPv4, IPv6, IPv4-mapped peers), its validation in lb.properties, and the
// start-up check for a node side that listens on the external address.

import { describe, expect, it } from 'vitest';
import { NodeSources, nodeSideExposure, parseSourceEntry } from '../../src/registry/node-sources.js';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

describe('NodeSources', () => {
  it('matches addresses and CIDRs of both families, and IPv4-mapped IPv6 peers', () => {
    const s = NodeSources.of(['10.0.0.0/8', '192.0.2.7', 'fd00::/8', '::1']);
    expect(s.allows('10.200.3.4')).toBe(true);
    expect(s.allows('::ffff:10.1.1.1')).toBe(true);
    expect(s.allows('192.0.2.7')).toBe(true);
    expect(s.allows('192.0.2.8')).toBe(false);
    expect(s.allows('11.0.0.1')).toBe(false);
    expect(s.allows('fd12:3456::1')).toBe(true);
    expect(s.allows('::1')).toBe(true);
    expect(s.allows('2001:db8::1')).toBe(false);
    expect(s.allows('not-an-ip')).toBe(false);
  });

  it('rejects entries that are no address or CIDR', () => {
    for (const bad of ['10.0.0.0/33', 'fd00::/129', 'example.com', '10.0.0.0/', '10.0.0.0/x', '']) expect(parseSourceEntry(bad)).toBeUndefined();
    expect(() => NodeSources.of(['10.0.0.0/33'])).toThrow(/CIDR/);
  });

  it('is read from lb.properties, with file:line errors for a bad entry', () => {
    const { config } = loadConfigText('nodeAllowedSources=10.0.0.0/8, ::1\n');
    expect(config.registry.nodeAllowedSources).toEqual(['10.0.0.0/8', '::1']);
    expect(loadConfigText('').config.registry.nodeAllowedSources).toEqual([]);
    try {
      loadConfigText('host=127.0.0.1\nnodeAllowedSources=10.0.0.0/8,nodes.example\n', 'lb.properties');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems.join('\n')).toMatch(/lb\.properties:2: nodeAllowedSources=.*"nodes\.example" is not an IP address or CIDR/);
    }
  });
});

describe('nodeSideExposure', () => {
  const layout = (text: string) => loadConfigText(text).config;

  it('warns when the heartbeat or internal ports share the external address and nothing gates them', () => {
    const w = nodeSideExposure(layout('host=192.0.2.1\nexternalPort=5060\ninternalPort=5065\n'));
    expect(w).toMatch(/heartbeat port 2610 and the internal SIP ports listen on an address of the external side \(192\.0\.2\.1\)/);
    expect(nodeSideExposure(layout('externalHost=0.0.0.0\ninternalHost=10.0.0.1\ninternalPort=5065\n'))).toMatch(/heartbeat port/);
  });

  it('is silent with nodeAllowedSources, or when the node side has its own address', () => {
    expect(nodeSideExposure(layout('host=192.0.2.1\ninternalPort=5065\nnodeAllowedSources=10.0.0.0/8\n'))).toBeUndefined();
    expect(nodeSideExposure(layout('externalHost=192.0.2.1\ninternalHost=10.0.0.1\ninternalPort=5065\n'))).toBeUndefined();
  });
});
