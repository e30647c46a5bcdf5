// lb.properties → a typed, validated, frozen Config: the orchestration of one reader per section, each
// reading its keys through a PropertyReader that keeps file:line for every problem.
//
// To add a key: put it in the reader of the section it configures (common-section.ts, sip-section.ts,
// probe-section.ts, health-section.ts, algorithm-section.ts, http-section.ts, smpp-section.ts, tls-section.ts; a key of one
// algorithm goes in that algorithm's `readConfig`, registered with registerAlgorithm), read it with
// r.int / r.optionalInt / r.bool / r.string / r.port / r.list / r.choice / r.regex giving its default and
// bounds (problems become "file:line: key=value: what was expected"), add the field to the section's type in
// types.ts, and a line to the README's configuration table. Unread keys are warned as unknown.

import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { readAlgorithmSection } from './algorithm-section.js';
import { readCommonSection } from './common-section.js';
import { readHealthSection } from './health-section.js';
import { readHttpSection } from './http-section.js';
import { checkListenerClashes } from './port-clashes.js';
import { readProbeSection } from './probe-section.js';
import { parseProperties } from './properties.js';
import { PropertyReader, type RawProperty } from './reader.js';
import { readSipSection } from './sip-section.js';
import { readSmppSection } from './smpp-section.js';
import { readTlsSection } from './tls-section.js';
import type { Config } from './types.js';
import { reportUnreadKeys } from './unknown-keys.js';

// Re-exported for callers that imported them from here.
export { ConfigError, parseProperties };

export interface LoadedConfig {
  readonly config: Config;
  /** Problems that do not stop start-up (unknown keys, keys without effect here). */
  readonly warnings: readonly string[];
  /** Keys accepted but not applicable (JAIN SIP stack tuning), for one debug line. */
  readonly notApplicable: readonly string[];
}

export function loadConfigFile(file: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError([`${file}: cannot read the configuration file: ${e.code === 'ENOENT' ? 'no such file' : e.message}`]);
  }
  return loadConfigText(text, file);
}


/** Builds the Config from properties text; throws ConfigError with one line per problem. */
export function loadConfigText(text: string, file = 'lb.properties'): LoadedConfig {
  const { props, duplicates } = parseProperties(text);
  return loadConfigProperties(props, file, duplicates);
}

/**
 * Builds the Config from the properties of one already validated (a worker of workers=N gets the primary's
 * configuration in force this way, whatever the file holds by then).
 */
export function loadConfigRecord(properties: Readonly<Record<string, string>>, file: string): LoadedConfig {
  return loadConfigProperties(new Map(Object.entries(properties).map(([key, value]) => [key, { value, line: 0 }])), file);
}

/**
 * Builds the Config from parsed properties (each with its line); throws ConfigError with one line per problem.
 * A hot reload uses it to build the configuration it applies: the new file with the kept values of keys
 * that need a restart.
 */
export function loadConfigProperties(props: ReadonlyMap<string, RawProperty>, file: string, duplicates: readonly { key: string; lines: number[] }[] = []): LoadedConfig {
  const r = new PropertyReader(file, props);

  const common = readCommonSection(r);
  const sipSection = readSipSection(r, common.ipv6Host);
  const probe = readProbeSection(r);
  const health = readHealthSection(r);
  const algorithm = readAlgorithmSection(r);
  const http = readHttpSection(r, common.host);
  const smpp = readSmppSection(r, common.host, http.isRemoteServerSsl);
  const tls = readTlsSection(r, sipSection, http, smpp);
  checkListenerClashes(r, common, sipSection, http, smpp);
  const notApplicable = reportUnreadKeys(r, props, duplicates);

  if (r.errors.length > 0) throw new ConfigError(r.errors, r.warnings);

  const properties: Record<string, string> = {};
  for (const [k, p] of props) properties[k] = p.value;

  const config: Config = deepFreeze({
    ...common,
    file,
    probe,
    sip: sipSection.sip,
    health,
    algorithm,
    http,
    smpp,
    tls,
    properties,
    sources: r.sources,
  });
  return { config, warnings: r.warnings, notApplicable };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o) && !(o instanceof RegExp) && !Buffer.isBuffer(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}
