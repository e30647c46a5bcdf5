// The command line: sipbalancer --config lb.properties [--check] [--log-level L] [--log-format F].
// Configuration problems stop start-up with exit code 2 and one line per problem.

import yargs from 'yargs';
import { loadConfigFile, loadConfigRecord, type LoadedConfig } from './config/load.js';
import { setTimerFallbackLog } from './timers.js';
import { createLogger, normaliseLogLevel, type LogFormat, type Logger } from './log.js';
import { LoadBalancer, VERSION } from './balancer.js';
import { ConfigError, StartupError } from './errors.js';
import cluster from 'node:cluster';
import { Primary } from './workers/primary.js';
import { WorkerProcess, workerIndex } from './workers/worker.js';
import { ConfigReloader } from './reloader.js';
import { WORKER_CONFIG_ENV } from './workers/messages.js';
import { Shutdown } from './shutdown.js';

/** The original's `-mobicents-balancer-config=<file>` becomes `--config <file>`. */
export function normaliseArgv(argv: string[]): string[] {
  const out: string[] = [];
  for (const arg of argv) {
    const m = /^--?mobicents-balancer-config(?:=(.*))?$/.exec(arg);
    if (m) {
      out.push('--config');
      if (m[1] !== undefined) out.push(m[1]);
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** The effective configuration with each value's source, for --check. */
export function describeConfig(loaded: LoadedConfig): string {
  const lines: string[] = [`# effective configuration of ${loaded.config.file}`];
  const width = Math.max(...loaded.config.sources.map((s) => s.key.length));
  const seen = new Set<string>();
  for (const s of loaded.config.sources) {
    if (seen.has(s.key)) continue;
    seen.add(s.key);
    const source = s.source === 'file' ? `file, line ${s.line}` : 'default';
    lines.push(`${s.key.padEnd(width)} = ${s.value.padEnd(24)} # ${source}`);
  }
  const c = loaded.config;
  lines.push('', '# listening points');
  const sipList = (ports: object): string => Object.entries(ports).map(([t, p]) => `${t}:${String(p)}`).join(' ') || '(none)';
  lines.push(`sip external ${c.externalHost}: ${sipList(c.sip.external)}`);
  lines.push(`sip internal ${c.internalHost}: ${c.sip.singleEntryMode ? '(none: single-entry mode)' : sipList(c.sip.internal)}`);
  if (c.ipv6Host) lines.push(`sip ipv6 ${c.ipv6Host}: external ${sipList(c.sip.externalIpv6)}; internal ${sipList(c.sip.internalIpv6)}`);
  lines.push(`http: ${c.http.port ?? 'off'}, https: ${c.http.httpsPort ?? 'off'}, smpp: ${c.smpp.port ?? 'off'}, smpp tls: ${c.smpp.sslPort ?? 'off'}`);
  lines.push(`heartbeat (JSON): ${c.registry.heartbeatPort ?? 'off'}, statistics: ${c.api.port ?? 'off'}`);
  lines.push(`algorithm: ${c.algorithm.name}${c.algorithm.custom ? ' (custom module)' : ''}`);
  if (loaded.warnings.length > 0) lines.push('', '# warnings', ...loaded.warnings);
  if (loaded.notApplicable.length > 0) lines.push('', `# accepted, without effect here: ${loaded.notApplicable.length} keys (see --log-level debug)`);
  return lines.join('\n') + '\n';
}

export async function main(rawArgv: string[]): Promise<number> {
  const parser = yargs(normaliseArgv(rawArgv))
    .scriptName('sipbalancer')
    .usage('$0 --config <lb.properties> [options]\n\nLoad balancer for SIP, HTTP/WebSocket and SMPP (Restcomm-compatible lb.properties).')
    .option('config', { alias: 'c', type: 'string', describe: 'the lb.properties file (also -mobicents-balancer-config=<file>)' })
    .option('check', { type: 'boolean', default: false, describe: 'validate the configuration, print the effective values and exit' })
    .option('log-level', { type: 'string', describe: 'fatal, error, warn, info, debug or trace (overrides logLevel)' })
    .option('log-format', { type: 'string', choices: ['json', 'pretty'], describe: 'log format (default: pretty on a terminal, else JSON lines)' })
    .version(VERSION)
    .help()
    .strict()
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    });
  let args: Awaited<ReturnType<typeof parser.parseAsync>>;
  try {
    args = await parser.parseAsync();
  } catch (err) {
    process.stderr.write(`sipbalancer: ${(err as Error).message}\nTry sipbalancer --help\n`);
    return 2;
  }
  if (args.help || args.version) return 0;
  const configFile = args.config;
  if (!configFile) {
    process.stderr.write('sipbalancer: --config <lb.properties> is required\nTry sipbalancer --help\n');
    return 2;
  }
  const cliLevel = args['log-level'] !== undefined ? normaliseLogLevel(args['log-level']) : undefined;
  if (args['log-level'] !== undefined && !cliLevel) {
    process.stderr.write(`sipbalancer: --log-level ${args['log-level']}: expected fatal, error, warn, info, debug, trace or silent\n`);
    return 2;
  }

  let loaded: LoadedConfig;
  try {
    // A worker starts from the primary's configuration in force (the file may have changed since, and a
    // change that needs a restart must not reach one worker alone).
    const inForce = cluster.isWorker ? process.env[WORKER_CONFIG_ENV] : undefined;
    loaded = inForce !== undefined ? loadConfigRecord(JSON.parse(inForce) as Record<string, string>, configFile) : loadConfigFile(configFile);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`sipbalancer: the configuration has ${err.problems.length} problem(s); nothing was started:\n`);
      for (const p of err.problems) process.stderr.write(`${p}\n`);
      for (const w of err.warnings) process.stderr.write(`warning: ${w}\n`);
      return 2;
    }
    throw err;
  }
  if (args.check) {
    process.stdout.write(describeConfig(loaded));
    process.stdout.write('configuration OK\n');
    return 0;
  }

  const rootLog = createLogger({ level: cliLevel ?? loaded.config.logLevel, format: args['log-format'] as LogFormat | undefined });
  setTimerFallbackLog(rootLog);
  if (loaded.config.workers > 1 && cluster.isWorker) return runWorker(loaded, rootLog.child({ worker: workerIndex() }));
  const log = rootLog;
  log.info({ config: configFile, version: VERSION }, `sipbalancer ${VERSION} starting with ${configFile}`);
  for (const w of loaded.warnings) log.warn(w);
  if (loaded.notApplicable.length > 0) log.debug({ keys: loaded.notApplicable }, 'accepted configuration keys without effect here (JAIN SIP stack tuning and Java-only settings)');
  if (loaded.config.tls.skipServerVerification) log.warn('tlsSkipServerVerification=true: certificates of nodes and SMSCs are NOT verified (labs only)');

  // workers=1: one process as always; more: a primary that forks the workers (src/workers/).
  const balancer = loaded.config.workers > 1 ? new Primary(loaded.config, log) : new LoadBalancer(loaded.config, log);
  // Signals and /lbstop stop it in order (exit 0); an uncaught exception stops it too, after the work in
  // flight, and exits 70 for the supervisor to restart it (src/shutdown.ts).
  // A hot reload may change shutdownTimeout: the bound in force when the stop begins applies.
  const shutdown = new Shutdown(balancer, log, { timeoutMs: () => balancer.config.shutdownTimeoutMs });
  let stopping = false;
  let reloader: ConfigReloader | undefined;
  // A SIGHUP during start-up (the file may already have changed) is applied once the reloader runs.
  let hupDuringStartup = false;
  const stopReloads = (): void => {
    stopping = true;
    reloader?.stop();
  };
  balancer.onStopRequested = (reason) => {
    stopReloads();
    shutdown.request(reason);
  };
  process.on('SIGINT', stopReloads);
  process.on('SIGTERM', stopReloads);
  shutdown.install();
  // SIGHUP reloads the configuration (hot reload); it must never end the daemon, not even during start-up.
  process.on('SIGHUP', () => {
    if (stopping) return;
    if (reloader === undefined) {
      hupDuringStartup = true;
      log.info('SIGHUP received during start-up: the configuration is reloaded as soon as the daemon serves');
      return;
    }
    log.info('SIGHUP received: reloading the configuration');
    void reloader.reload('SIGHUP');
  });
  // A promise nobody awaited leaves no half-done state behind: logged with its stack, the process keeps serving.
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection'));

  return startOrReport(balancer, log, async () => {
    const watch = new ConfigReloader(balancer, configFile, log);
    await watch.start();
    if (stopping) return;
    reloader = watch;
    if (hupDuringStartup) void watch.reload('SIGHUP');
  });
}

/** Starts the daemon (or one worker); a start-up failure is one fatal line and exit code 1. */
async function startOrReport(daemon: { start(): Promise<void> }, log: Logger, started?: () => Promise<void>): Promise<number> {
  try {
    await daemon.start();
    await started?.();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
    if (err instanceof StartupError) log.fatal(err.message);
    else if (e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL' || e.code === 'EACCES') {
      log.fatal(`cannot listen on ${e.address ?? ''}:${e.port ?? ''}: ${e.code} (${e.message})`);
    } else log.fatal({ err }, `start-up failed: ${e.message}`);
    return 1;
  }
  return new Promise<number>(() => {
    /* runs until a signal (or, in a worker, until the primary stops it) */
  });
}

/**
 * A worker of workers=N: serves until the primary stops it. After an uncaught exception it finishes its work in
 * flight (bounded by shutdownTimeout) and exits 70; the primary starts a new worker in its place.
 */
function runWorker(loaded: LoadedConfig, log: Logger): Promise<number> {
  const worker = new WorkerProcess(loaded.config, log);
  // Signals go to the primary, which stops the workers in order.
  new Shutdown(worker, log, { timeoutMs: () => worker.currentConfig.shutdownTimeoutMs }).install(process, false);
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection'));
  return startOrReport(worker, log);
}
