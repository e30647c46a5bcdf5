// The SMPP section of lb.properties: the broker's ports, its upstream SMSCs and its timers.

import { parseHostPorts } from './hosts.js';
import type { PropertyReader } from './reader.js';
import type { SmppConfig } from './types.js';

/** `isRemoteServerSsl` is the HTTP section's key; the original uses it for SMPP upstream connections too. */
export function readSmppSection(r: PropertyReader, host: string, isRemoteServerSsl: boolean): SmppConfig {
  const smppHost = r.string('smppHost', host)!;
  const remoteRaw = r.raw('remoteServers');
  const smppPort = r.listenPort('smppPort');
  const smppSslPort = r.listenPort('smppSslPort');
  const smpp: SmppConfig = {
    port: smppPort,
    sslPort: smppSslPort,
    externalHost: r.string('smppExternalHost', smppHost)!,
    internalHost: r.string('smppInternalHost'),
    remoteServers: parseHostPorts(r, 'remoteServers', r.list('remoteServers'), undefined, remoteRaw),
    isRemoteServerSsl,
    maxPduSize: r.int('smppMaxPduSize', 65_536, { min: 64, max: 16 * 1024 * 1024, unit: 'bytes' }),
    timeoutResponseMs: r.int('timeoutResponse', 3000, { min: 1, unit: 'milliseconds' }),
    timeoutConnectionMs: r.int('timeoutConnection', 1000, { min: 1, unit: 'milliseconds' }),
    timeoutEnquireMs: r.int('timeoutEnquire', 10_000, { min: 1, unit: 'milliseconds' }),
    reconnectPeriodMs: r.int('reconnectPeriod', 500, { min: 1, unit: 'milliseconds' }),
    timeoutConnectionCheckClientSideMs: r.int('timeoutConnectionCheckClientSide', 3000, { min: 1, unit: 'milliseconds' }),
    timeoutConnectionCheckServerSideMs: r.int('timeoutConnectionCheckServerSide', 3000, { min: 1, unit: 'milliseconds' }),
    maxConnectionSize: r.int('maxConnectionSize', 10, { min: 1 }),
    toProvider: readToProvider(r),
    // The original's default: one upstream bind per SMSC for all ESMEs of a system_id keeps an operator under the
    // SMSC's bind limit, and an lb.properties written for the original behaves the same here.
    muxMode: r.bool('muxMode', true),
    muxReceiptMemory: r.int('muxReceiptMemory', 200_000, { min: 0, max: 10_000_000 }),
    muxReceiptLifetimeMs: r.int('muxReceiptLifetime', 3_600_000, { min: 1, unit: 'milliseconds' }),
  };
  readToNode(r, smpp.muxMode);
  const maxConnRaw = r.raw('maxConnectionSize');
  if (maxConnRaw) r.warn(maxConnRaw, 'maxConnectionSize', "not used: in the original it sized the SMPP Netty worker pool; here one event loop serves every session (see workers), and each ESME's PDUs are bounded by TCP back-pressure");
  if ((smppPort !== undefined || smppSslPort !== undefined) && smpp.remoteServers.length === 0) {
    r.warn(undefined, 'remoteServers', 'the SMPP broker has no remoteServers; it will use nodes that advertise an smppPort');
  }
  return smpp;
}

/**
 * `toProviderAlgorithmClass`: how an ESME's upstream SMSC is chosen. The original's class names are matched on
 * their last segment (…RoundRobin…, …ActiveStandby…), as algorithmClass is; our short names work too.
 */
function readToProvider(r: PropertyReader): 'round-robin' | 'active-standby' {
  const raw = r.raw('toProviderAlgorithmClass');
  const value = raw?.value.trim() ?? '';
  const last = (value.split('.').pop() ?? '').toLowerCase().replace(/[^a-z]/g, '');
  const policy = value === '' || last.includes('roundrobin') ? 'round-robin' : last.includes('activestandby') ? 'active-standby' : undefined;
  if (policy === undefined) {
    r.error(raw, 'toProviderAlgorithmClass', `"${value}" is not an SMPP provider algorithm; expected round-robin or active-standby (or the original's class names)`);
  }
  r.sources.push(raw ? { key: 'toProviderAlgorithmClass', value: policy ?? value, source: 'file', line: raw.line } : { key: 'toProviderAlgorithmClass', value: 'round-robin', source: 'default' });
  return policy ?? 'round-robin';
}

/**
 * `toNodeAlgorithmClass`: how mux mode picks the ESME for an SMSC's deliver_sm/data_sm. Round robin only (the
 * original's SubmitToAll sent one message to every ESME: duplicates, not provided); regular mode has one ESME per
 * upstream connection, so the key has no effect there.
 */
function readToNode(r: PropertyReader, muxMode: boolean): void {
  const raw = r.raw('toNodeAlgorithmClass');
  if (raw === undefined) return;
  const last = (raw.value.trim().split('.').pop() ?? '').toLowerCase().replace(/[^a-z]/g, '');
  if (!muxMode) r.warn(raw, 'toNodeAlgorithmClass', 'no effect in regular mode (muxMode=false): each ESME has its own upstream connection');
  else if (last !== '' && !last.includes('roundrobin')) r.warn(raw, 'toNodeAlgorithmClass', 'mux mode delivers to the ESMEs of a system_id round robin (submit-to-all, which duplicates messages, is not provided)');
}
