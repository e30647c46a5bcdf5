// Runs sipp (Debian sip-tester, /usr/bin/sipp 3.6) as a caller (UAC) or an application server (UAS) for
// end-to-end tests and the benchmark: explicit ports on 127.0.0.1, bounded in time, stopped by PID, and
// its statistics (-trace_stat CSV) and message log (-trace_msg) parsed so a test can assert who got what.

import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SIPP_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'sipp');
export const SIPP_BIN = process.env.SIPP_BIN ?? 'sipp';

/** sipp transport modes: UDP with one socket, TCP with one connection, TCP with one connection per call. */
export type SippTransport = 'u1' | 't1' | 'tn';

export interface SippOptions {
  /** A scenario file name in test/fixtures/sipp/ (e.g. 'uac.xml') or an absolute path. */
  scenario: string;
  /** The port sipp binds on `host` (its Via/Contact port). */
  localPort: number;
  host?: string;
  /** Where a UAC sends its requests ('host:port'); leave out for a UAS. */
  remote?: string;
  transport?: SippTransport;
  /** -m: stop after this many calls. */
  calls?: number;
  /** -r: calls per second (per `ratePeriodMs`). */
  rate?: number;
  ratePeriodMs?: number;
  /** -l: maximum simultaneous calls. */
  maxConcurrent?: number;
  /** -d: the length of the <pause/> in the scenario (ms). */
  callLengthMs?: number;
  /** -s: the user part of the Request-URI. */
  service?: string;
  /** -key name value: extra [name] keywords for the scenario. */
  keys?: Record<string, string | number>;
  /** Record every message sent and received (-trace_msg); read them from the result. */
  traceMessages?: boolean;
  /** Hard bound on the run: sipp is killed (and the result marked timedOut) after this. Default 30 s. */
  timeoutMs?: number;
  /** -recv_timeout: a call that waits longer than this for an expected message fails (default: none). */
  recvTimeoutMs?: number;
  /** -fd: statistics CSV period in seconds (default 1). */
  statsPeriodSeconds?: number;
  /** sipp's UDP control port (it binds 0.0.0.0); by default a free one is picked. */
  controlPort?: number;
  /** Any further sipp arguments. */
  args?: string[];
}

/** The cumulative counters of sipp's -trace_stat CSV (its last line). */
export interface SippStats {
  outgoingCalls: number;
  incomingCalls: number;
  successfulCalls: number;
  failedCalls: number;
  currentCalls: number;
  retransmissions: number;
  /** Every column of the last line, by CSV header name. */
  columns: Record<string, string>;
}

export interface SippMessage {
  direction: 'sent' | 'received';
  /** 'UDP' or 'TCP', as sipp prints it. */
  transport: string;
  startLine: string;
  /** Request method, or undefined for a response. */
  method?: string;
  /** Response status code, or undefined for a request. */
  status?: number;
  /** For a response, the method of its CSeq. */
  cseqMethod?: string;
  callId?: string;
  /** Header values by lower-case name (compact names are not expanded); repeated headers keep every line. */
  headers: Map<string, string[]>;
  raw: string;
  /** The message's size on the wire, as sipp logs it ("(n bytes)" / "[n] bytes"). */
  bytes: number;
  /** When sipp sent or received it (ms since the epoch, from the log's timestamp; NaN if there is none). */
  at: number;
}

export interface SippResult {
  /** 0: every call succeeded; 1: some failed; 97/99: stopped or no call; null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the run hit `timeoutMs` and sipp was killed. */
  timedOut: boolean;
  stats?: SippStats;
  messages: SippMessage[];
  /** Contents of the -trace_err file (unexpected messages), if any. */
  errors: string;
  /** sipp's stdout + stderr (its screen; useful in assertion messages). */
  output: string;
}

export interface Sipp {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves when sipp exits by itself (or is stopped), with its parsed results; temp files are gone by then. */
  readonly done: Promise<SippResult>;
  /** Messages logged so far (while sipp runs; sipp flushes its log as it writes). */
  messagesSoFar(): SippMessage[];
  /** Soft stop (SIGUSR1: no new calls), then SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<SippResult>;
}

/** The command-line arguments for `opts`, with output files placed in `dir`. */
export function sippArgs(opts: SippOptions, dir: string): string[] {
  const scenario = isAbsolute(opts.scenario) ? opts.scenario : join(SIPP_FIXTURES, opts.scenario);
  const a: string[] = [];
  if (opts.remote) a.push(opts.remote);
  a.push('-sf', scenario, '-i', opts.host ?? '127.0.0.1', '-p', String(opts.localPort), '-t', opts.transport ?? 'u1');
  // sipp binds a UDP control port on 0.0.0.0 (default 8888) and exits if it is taken: with several sipps and
  // other agents on the box that collides, so each sipp gets its own.
  if (opts.controlPort !== undefined) a.push('-cp', String(opts.controlPort));
  a.push('-nostdin', '-trace_stat', '-stf', join(dir, 'stat.csv'), '-fd', String(opts.statsPeriodSeconds ?? 1));
  a.push('-trace_err', '-error_file', join(dir, 'errors.log'));
  if (opts.traceMessages) a.push('-trace_msg', '-message_file', join(dir, 'messages.log'));
  if (opts.calls !== undefined) a.push('-m', String(opts.calls));
  if (opts.rate !== undefined) a.push('-r', String(opts.rate));
  if (opts.ratePeriodMs !== undefined) a.push('-rp', `${opts.ratePeriodMs}ms`);
  if (opts.maxConcurrent !== undefined) a.push('-l', String(opts.maxConcurrent));
  if (opts.callLengthMs !== undefined) a.push('-d', `${opts.callLengthMs}ms`);
  if (opts.service !== undefined) a.push('-s', opts.service);
  if (opts.recvTimeoutMs !== undefined) a.push('-recv_timeout', `${opts.recvTimeoutMs}ms`);
  // A caller ends by itself a little before the hard bound, so its statistics are still written.
  if (opts.remote && opts.timeoutMs !== undefined && opts.timeoutMs > 3000) {
    a.push('-timeout', `${Math.floor((opts.timeoutMs - 2000) / 1000)}s`, '-timeout_error');
  }
  for (const [k, v] of Object.entries(opts.keys ?? {})) a.push('-key', k, String(v));
  a.push(...(opts.args ?? []));
  return a;
}

/** A UDP port free on every address (sipp binds its control socket on 0.0.0.0). */
async function freeControlPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '0.0.0.0', () => resolve());
  });
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Starts sipp; for a UAS (no `remote`) resolves once its port is bound, so callers can send at once. */
export async function startSipp(opts: SippOptions): Promise<Sipp> {
  const dir = mkdtempSync(join(tmpdir(), 'sipp-'));
  const args = sippArgs({ ...opts, controlPort: opts.controlPort ?? (await freeControlPort()) }, dir);
  const child = spawn(SIPP_BIN, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  // sipp redraws its statistics screen often; keep only the tail so a long run does not grow without bound.
  const append = (d: Buffer): void => {
    output += d.toString('latin1');
    if (output.length > 200_000) output = output.slice(-100_000);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  let timedOut = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', (err) => {
      output += `\nspawn error: ${err.message}`;
      resolve({ code: -1, signal: null });
    });
  });
  const hardTimer = setTimeout(() => {
    timedOut = true;
    killQuietly(child, 'SIGKILL');
  }, opts.timeoutMs ?? 30_000);
  const done = exited.then(({ code, signal }) => {
    clearTimeout(hardTimer);
    const result: SippResult = {
      code,
      signal,
      timedOut,
      stats: readStats(join(dir, 'stat.csv')),
      messages: readMessages(join(dir, 'messages.log')),
      errors: readText(join(dir, 'errors.log')),
      output,
    };
    rmSync(dir, { recursive: true, force: true });
    return result;
  });
  let stopping: Promise<SippResult> | undefined;
  const sipp: Sipp = {
    pid: child.pid ?? -1,
    child,
    done,
    messagesSoFar: () => readMessages(join(dir, 'messages.log')),
    stop(graceMs = 1500) {
      if (!stopping) {
        stopping = (async () => {
          if (child.exitCode === null && child.signalCode === null) {
            killQuietly(child, 'SIGUSR1');
            const timer = setTimeout(() => killQuietly(child, 'SIGKILL'), graceMs);
            const r = await done;
            clearTimeout(timer);
            return r;
          }
          return done;
        })();
      }
      return stopping;
    },
  };
  if (!opts.remote) {
    const proto = (opts.transport ?? 'u1') === 'u1' ? 'udp' : 'tcp';
    const ready = await Promise.race([
      waitForBoundPort(proto, opts.localPort, 5000).then((ok) => (ok ? 'bound' : 'timeout')),
      exited.then(() => 'exited'),
    ]);
    if (ready !== 'bound') {
      await sipp.stop(0);
      throw new Error(`sipp UAS on ${proto} ${opts.localPort} did not start (${ready}):\n${output.slice(-2000)}`);
    }
  }
  return sipp;
}

/** Runs sipp to completion (a UAC with `calls` set) and returns its result. */
export async function runSipp(opts: SippOptions): Promise<SippResult> {
  const sipp = await startSipp(opts);
  return sipp.done;
}

function killQuietly(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    /* already gone */
  }
}

function readText(path: string): string {
  return existsSync(path) ? readFileSync(path, 'latin1') : '';
}

/** Whether a socket is bound on 127.0.0.1:`port` (UDP) or listening (TCP), from /proc/net. */
export function isPortBound(proto: 'udp' | 'tcp', port: number): boolean {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of [`/proc/net/${proto}`, `/proc/net/${proto}6`]) {
    for (const line of readText(file).split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4) continue;
      const local = cols[1] ?? '';
      if (!local.endsWith(`:${hexPort}`)) continue;
      if (proto === 'udp' || cols[3] === '0A') return true;
    }
  }
  return false;
}

async function waitForBoundPort(proto: 'udp' | 'tcp', port: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (isPortBound(proto, port)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

/** Parses the last line of a -trace_stat CSV. */
export function readStats(path: string): SippStats | undefined {
  const lines = readText(path).split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2) return undefined;
  const names = lines[0]!.split(';');
  const values = lines[lines.length - 1]!.split(';');
  const columns: Record<string, string> = {};
  names.forEach((n, i) => {
    if (n) columns[n] = values[i] ?? '';
  });
  const num = (k: string): number => Number(columns[k] ?? 'NaN');
  return {
    outgoingCalls: num('OutgoingCall(C)'),
    incomingCalls: num('IncomingCall(C)'),
    successfulCalls: num('SuccessfulCall(C)'),
    failedCalls: num('FailedCall(C)'),
    currentCalls: num('CurrentCall'),
    retransmissions: num('Retransmissions(C)'),
    columns,
  };
}

const BLOCK_SEPARATOR = '----------------------------------------------- ';

/** Parses a -trace_msg log: blocks headed "UDP message received [n] bytes :" / "UDP message sent (n bytes):". */
export function parseMessageLog(text: string): SippMessage[] {
  const out: SippMessage[] = [];
  for (const block of text.split(BLOCK_SEPARATOR)) {
    const nl = block.indexOf('\n');
    if (nl < 0) continue;
    const rest = block.slice(nl + 1);
    const headNl = rest.indexOf('\n');
    if (headNl < 0) continue;
    const head = rest.slice(0, headNl);
    const received = head.includes('message received');
    const sent = head.includes('message sent');
    if (!received && !sent) continue;
    const raw = rest.slice(headNl + 1).replace(/^\n+/, '');
    const msg = parseSipText(raw);
    if (!msg) continue;
    const bytes = Number(/[([](\d+)(?: bytes\)|\] bytes)/.exec(head)?.[1] ?? NaN);
    out.push({ direction: received ? 'received' : 'sent', transport: head.split(' ')[0] ?? '', ...msg, bytes, at: logTime(block.slice(0, nl)) });
  }
  return out;
}

/** sipp's block timestamp, "2026-12-02 10:40:00.123456" in local time, as ms since the epoch. */
function logTime(line: string): number {
  const m = /(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d{1,6})/.exec(line);
  return m ? new Date(`${m[1]}T${m[2]}`).getTime() + Number(m[3]!.padEnd(6, '0')) / 1000 : NaN;
}

function parseSipText(raw: string): Omit<SippMessage, 'direction' | 'transport' | 'bytes' | 'at'> | undefined {
  const lines = raw.split(/\r?\n/);
  const startLine = lines[0] ?? '';
  if (!startLine) return undefined;
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const list = headers.get(name);
    if (list) list.push(value);
    else headers.set(name, [value]);
  }
  const first = (name: string, compact: string): string | undefined => headers.get(name)?.[0] ?? headers.get(compact)?.[0];
  const callId = first('call-id', 'i');
  const cseq = headers.get('cseq')?.[0];
  const cseqMethod = cseq?.split(/\s+/)[1];
  if (startLine.startsWith('SIP/2.0 ')) {
    return { startLine, status: Number(startLine.split(' ')[1]), cseqMethod, callId, headers, raw };
  }
  return { startLine, method: startLine.split(' ')[0], cseqMethod, callId, headers, raw };
}

function readMessages(path: string): SippMessage[] {
  return parseMessageLog(readText(path));
}

/** Requests a sipp received, e.g. to assert which node got which Call-ID. */
export function receivedRequests(messages: readonly SippMessage[]): SippMessage[] {
  return messages.filter((m) => m.direction === 'received' && m.method !== undefined);
}
