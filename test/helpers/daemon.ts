// Starts bin/sipbalancer as a child process with a temporary lb.properties, for end-to-end tests.
// The process is stopped by its own PID; its JSON log lines are collected for assertions. Tests give the
// daemon port 0 for every listener and read the ports it bound from its "Listening on" log lines
// (daemon.port('httpPort')): no port is picked by the test and bound later, so no race with other tests.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'sipbalancer');

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface Daemon {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly configPath: string;
  /** Parsed JSON log lines so far. */
  readonly logs: LogLine[];
  /**
   * The port the daemon bound for a listener key of lb.properties (externalUdpPort, internalTcpPort, httpPort,
   * heartbeatPort, statisticPort, smppPort, externalIpv6UdpPort, …), from its "Listening on" log line; throws
   * naming the key when the daemon has not bound it. Legacy keys name their transports: externalPort is
   * externalUdpPort and externalTcpPort (two ports when it is 0).
   */
  port(key: string): number;
  /** Every listener the daemon reported so far: key → port. */
  ports(): Record<string, number>;
  /** Raw stdout + stderr so far. */
  output(): string;
  /** Resolves with the first log line matching, or rejects after `timeoutMs`. */
  waitForLog(match: string | RegExp | ((l: LogLine) => boolean), timeoutMs?: number): Promise<LogLine>;
  /** Sends SIGTERM (or `signal`) and resolves with the exit code. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface DaemonOptions {
  /** lb.properties content: a string as written, or key → value. */
  properties: string | Record<string, string | number | boolean>;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Wait for this log message before resolving (default: the "started" line). Use null to not wait. */
  readyLog?: string | RegExp | null;
  readyTimeoutMs?: number;
}

export function propertiesText(props: Record<string, string | number | boolean>): string {
  return Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
}

/** Runs the CLI to completion (for --check, bad configs): exit code and output. */
export async function runCli(args: string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Writes `content` to a new temporary directory and returns the file's path. */
export function tempFile(name: string, content: string | Buffer): string {
  const dir = mkdtempSync(join(tmpdir(), 'sipbalancer-test-'));
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const text = typeof opts.properties === 'string' ? opts.properties : propertiesText(opts.properties);
  const configPath = tempFile('lb.properties', text);
  const child = spawn(process.execPath, [BIN, '--config', configPath, '--log-format', 'json', ...(opts.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  let raw = '';
  let partial = '';
  const waiters: { test: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  const onLine = (line: string): void => {
    if (!line.startsWith('{')) return;
    try {
      const parsed = JSON.parse(line) as LogLine;
      logs.push(parsed);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.test(parsed)) {
          waiters[i]!.resolve(parsed);
          waiters.splice(i, 1);
        }
      }
    } catch {
      /* not a log line */
    }
  };
  child.stdout!.on('data', (d: Buffer) => {
    const s = d.toString();
    raw += s;
    partial += s;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      onLine(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (raw += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      rmSync(dirname(configPath), { recursive: true, force: true });
      resolve({ code, signal });
    }),
  );
  const toTest = (m: string | RegExp | ((l: LogLine) => boolean)): ((l: LogLine) => boolean) =>
    typeof m === 'function' ? m : typeof m === 'string' ? (l) => l.msg?.includes(m) : (l) => m.test(l.msg ?? '');
  const waitForLog = (match: string | RegExp | ((l: LogLine) => boolean), timeoutMs = 10_000): Promise<LogLine> => {
    const test = toTest(match);
    const found = logs.find(test);
    if (found) return Promise.resolve(found);
    return new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`log line ${String(match)} not seen in ${timeoutMs} ms; output:\n${raw.slice(-4000)}`)), timeoutMs);
      const w = { test, resolve: (l: LogLine) => { clearTimeout(timer); resolve(l); } };
      waiters.push(w);
      void exited.then(() => { clearTimeout(timer); reject(new Error(`daemon exited before ${String(match)}; output:\n${raw.slice(-4000)}`)); });
    });
  };
  let stopping: Promise<number | null> | undefined;
  const daemon: Daemon = {
    child,
    pid: child.pid!,
    configPath,
    logs,
    port(key: string): number {
      const port = daemon.ports()[key];
      if (port === undefined) throw new Error(`the daemon reported no listener ${key}; it reported: ${JSON.stringify(daemon.ports())}`);
      return port;
    },
    ports(): Record<string, number> {
      const out: Record<string, number> = {};
      for (const l of logs) if (typeof l.listener === 'string' && typeof l.port === 'number') out[l.listener] ??= l.port;
      return out;
    },
    output: () => raw,
    waitForLog,
    exited,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (!stopping) {
        stopping = (async () => {
          if (child.exitCode === null && child.signalCode === null) {
            process.kill(child.pid!, signal);
            const timer = setTimeout(() => { if (child.exitCode === null) process.kill(child.pid!, 'SIGKILL'); }, 15_000);
            const r = await exited;
            clearTimeout(timer);
            return r.code;
          }
          return child.exitCode;
        })();
      }
      return stopping;
    },
  };
  if (opts.readyLog !== null) {
    try {
      await waitForLog(opts.readyLog ?? 'Load balancer started', opts.readyTimeoutMs ?? 15_000);
    } catch (err) {
      await daemon.stop('SIGKILL');
      throw err;
    }
  }
  return daemon;
}
