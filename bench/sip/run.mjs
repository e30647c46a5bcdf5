#!/usr/bin/env node
// SIP benchmark: sipp UAC → proxy → sipp UAS over UDP at a ladder of call rates, for three proxies (none: sipp
// straight to sipp; Kamailio, stateless; the balancer). A step is clean only with 0 failed calls and 0
// retransmissions on both sipps. Prints the highest clean rate, the proxy's CPU per 1,000 calls/s (utime+stime of
// its processes, from /proc), and the ratio to Kamailio.
//
//   node bench/sip/run.mjs [--step-seconds 15] [--proxies direct,kamailio,balancer] [--rates 500,1000,...]
//                          [--retries 1] [--warmup-seconds 3] [--quick] [--balancer-property key=value ...]

import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir, cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const UAC_SCENARIO = join(ROOT, 'test', 'fixtures', 'sipp', 'uac.xml');
const UAS_SCENARIO = join(HERE, 'uas-pause.xml');
const KAMAILIO_CFG = join(HERE, 'kamailio.cfg');
const BALANCER_BIN = join(ROOT, 'bin', 'sipbalancer');
const HOST = '127.0.0.1';
const CALL_LENGTH_MS = 100;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

const DEFAULT_RATES = [250, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 7000, 8000, 10000, 12000, 14000, 16000, 17500, 20000];

function parseArgs(argv) {
  const opts = { stepSeconds: 15, warmupSeconds: 3, proxies: ['direct', 'kamailio', 'balancer'], rates: DEFAULT_RATES, retries: 1, balancerProps: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      return argv[++i];
    };
    if (a.startsWith('--step-seconds')) opts.stepSeconds = Number(value());
    else if (a.startsWith('--proxies')) opts.proxies = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a.startsWith('--rates')) opts.rates = value().split(',').map(Number);
    else if (a.startsWith('--retries')) opts.retries = Number(value());
    else if (a.startsWith('--warmup-seconds')) opts.warmupSeconds = Number(value());
    else if (a === '--quick') opts.stepSeconds = 4;
    else if (a.startsWith('--balancer-property')) {
      // e.g. --balancer-property isSendTrying=false (stateless Kamailio sends no 100 Trying)
      const [k, ...v] = value().split('=');
      opts.balancerProps[k] = v.join('=');
    }
    else if (a === '--help' || a === '-h') {
      console.log('usage: node bench/sip/run.mjs [--step-seconds 15] [--quick] [--proxies direct,kamailio,balancer] [--rates 500,1000,...] [--retries 1] [--warmup-seconds 3] [--balancer-property key=value ...]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!(opts.stepSeconds > 0)) throw new Error('--step-seconds must be positive');
  return opts;
}

async function freePort() {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, HOST, () => {
        const p = srv.address().port;
        srv.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, HOST, () => s.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function isUdpBound(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/udp', 'latin1').split('\n').some((l) => (l.trim().split(/\s+/)[1] ?? '').endsWith(hex));
}

async function waitUdpBound(port, timeoutMs, what) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (isUdpBound(port)) return;
    await sleep(25);
  }
  throw new Error(`${what} did not bind UDP ${port} in ${timeoutMs} ms`);
}

/** A child process we started, stopped by its own PID. */
function startProcess(cmd, args, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let output = '';
  const keep = (d) => {
    output += d.toString();
    if (output.length > 100_000) output = output.slice(-50_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
    child.on('error', (err) => {
      output += `\n${err.message}`;
      resolve({ code: -1, signal: null });
    });
  });
  return {
    child,
    exited,
    output: () => output,
    async stop(signal = 'SIGTERM', graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      try { process.kill(child.pid, signal); } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

/** utime+stime (clock ticks) of `pid` and all its descendants. */
function cpuTicks(rootPid) {
  const stats = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'latin1');
      // The command name is in parentheses and may contain spaces: fields start after the last ')'.
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch { /* exited meanwhile */ }
  }
  let total = 0;
  const queue = [rootPid];
  const seen = new Set();
  while (queue.length) {
    const pid = queue.pop();
    if (seen.has(pid)) continue;
    seen.add(pid);
    const s = stats.get(pid);
    if (s) total += s.ticks;
    for (const [child, cs] of stats) if (cs.ppid === pid) queue.push(child);
  }
  return total;
}

function readSippStats(csvPath) {
  if (!existsSync(csvPath)) return undefined;
  const lines = readFileSync(csvPath, 'latin1').split('\n').filter((l) => l.trim());
  if (lines.length < 2) return undefined;
  const names = lines[0].split(';');
  const values = lines[lines.length - 1].split(';');
  const get = (k) => Number(values[names.indexOf(k)]);
  return { successful: get('SuccessfulCall(C)'), failed: get('FailedCall(C)'), retransmissions: get('Retransmissions(C)'), incoming: get('IncomingCall(C)') };
}

/** A UDP port free on every address: sipp binds its control socket on 0.0.0.0 and exits if it is taken. */
async function freeControlPort() {
  const s = createSocket('udp4');
  await new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '0.0.0.0', resolve);
  });
  const port = s.address().port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

function sippArgs({ scenario, port, controlPort, remote, dir, name, extra = [] }) {
  const args = [];
  if (remote) args.push(remote);
  args.push('-sf', scenario, '-i', HOST, '-p', String(port), '-t', 'u1', '-nostdin', '-cp', String(controlPort));
  // A large socket buffer so a burst is not dropped by the kernel (a drop would show as a retransmission).
  args.push('-buff_size', String(4 * 1024 * 1024));
  args.push('-trace_stat', '-stf', join(dir, `${name}.csv`), '-fd', '1', '-trace_err', '-error_file', join(dir, `${name}-errors.log`));
  args.push(...extra);
  return args;
}

// --- proxies ------------------------------------------------------------------------------------------------

async function startKamailio(uasPort, dir) {
  const port = await freePort();
  const list = join(dir, 'dispatcher.list');
  writeFileSync(list, `1 sip:${HOST}:${uasPort}\n`);
  const cfg = readFileSync(KAMAILIO_CFG, 'utf8')
    .replace('#!substdef "!LISTEN_PORT!5060!"', `#!substdef "!LISTEN_PORT!${port}!"`)
    .replace('#!substdef "!DISPATCHER_LIST!/tmp/dispatcher.list!"', `#!substdef "!DISPATCHER_LIST!${list}!"`);
  const cfgPath = join(dir, 'kamailio.cfg');
  writeFileSync(cfgPath, cfg);
  // -DD: stay in the foreground but fork the workers; -E: log to stderr; -n 1: one worker per listening socket.
  const proc = startProcess('kamailio', ['-DD', '-E', '-f', cfgPath, '-P', join(dir, 'kamailio.pid'), '-Y', dir, '-n', '1', '-m', '256'], { cwd: dir });
  await Promise.race([waitUdpBound(port, 10_000, 'kamailio'), proc.exited.then(() => { throw new Error(`kamailio exited:\n${proc.output()}`); })]);
  return { name: 'kamailio', port, pid: proc.child.pid, stop: () => proc.stop('SIGTERM'), output: proc.output };
}

async function startBalancer(uasPort, dir, extraProps = {}) {
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` first');
  const [externalPort, internalPort, heartbeatPort] = [await freePort(), await freePort(), await freePort()];
  const props = {
    host: HOST,
    externalUdpPort: externalPort,
    externalTcpPort: '',
    internalUdpPort: internalPort,
    internalTcpPort: '',
    heartbeatPort,
    statisticPort: '',
    httpPort: '',
    extraServerNodes: `${HOST}:${uasPort}`,
    performanceTestingMode: true,
    logLevel: 'warn',
    ...extraProps,
  };
  const cfgPath = join(dir, 'lb.properties');
  writeFileSync(cfgPath, Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  const proc = startProcess(process.execPath, [BALANCER_BIN, '--config', cfgPath], { cwd: ROOT });
  await Promise.race([waitUdpBound(externalPort, 15_000, 'the balancer'), proc.exited.then(() => { throw new Error(`the balancer exited:\n${proc.output()}`); })]);
  await sleep(300);
  return { name: 'balancer', port: externalPort, pid: proc.child.pid, stop: () => proc.stop('SIGTERM'), output: proc.output };
}

// --- one step -----------------------------------------------------------------------------------------------

/** One rate step: a fresh UAS on the ladder's UAS port, a UAC through `proxy` (or straight to the UAS). */
async function runStep(proxy, uasPort, rate, stepSeconds) {
  const dir = mkdtempSync(join(tmpdir(), 'sipbench-'));
  const uacPort = await freePort();
  const calls = Math.max(1, Math.round(rate * stepSeconds));
  const uas = startProcess('sipp', sippArgs({ scenario: UAS_SCENARIO, port: uasPort, controlPort: await freeControlPort(), dir, name: 'uas' }), { cwd: dir });
  try {
    await Promise.race([waitUdpBound(uasPort, 5000, 'sipp UAS'), uas.exited.then(() => { throw new Error(`sipp UAS exited:\n${uas.output()}`); })]);
    const target = proxy ? proxy.port : uasPort;
    const uacArgs = sippArgs({
      scenario: UAC_SCENARIO, port: uacPort, controlPort: await freeControlPort(), remote: `${HOST}:${target}`, dir, name: 'uac',
      extra: ['-m', String(calls), '-r', String(rate), '-d', `${CALL_LENGTH_MS}ms`, '-timeout', `${stepSeconds + 20}s`, '-timeout_error', '-recv_timeout', '5000ms'],
    });
    const ticks0 = proxy ? cpuTicks(proxy.pid) : 0;
    const t0 = process.hrtime.bigint();
    const uac = startProcess('sipp', uacArgs, { cwd: dir });
    const hard = setTimeout(() => void uac.stop('SIGKILL'), (stepSeconds + 30) * 1000);
    const { code } = await uac.exited;
    clearTimeout(hard);
    const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpuSeconds = proxy ? (cpuTicks(proxy.pid) - ticks0) / CLK_TCK : NaN;
    // Let the UAS finish its last calls (timewait), then collect its side.
    await sleep(800);
    await uas.stop('SIGUSR1', 2000);
    const u = readSippStats(join(dir, 'uac.csv'));
    const s = readSippStats(join(dir, 'uas.csv'));
    const clean = code === 0 && u !== undefined && u.failed === 0 && u.successful === calls && u.retransmissions === 0 && (s?.retransmissions ?? 0) === 0;
    const achieved = u ? u.successful / wallSeconds : 0;
    return {
      rate, calls, clean, code, wallSeconds, achieved,
      uac: u, uas: s,
      cpuSeconds,
      cpuPercent: proxy ? (cpuSeconds / wallSeconds) * 100 : NaN,
    };
  } finally {
    await uas.stop('SIGKILL', 1000);
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- the ladder ---------------------------------------------------------------------------------------------

/**
 * The ladder for every proxy at once: each proxy runs for the whole ladder (a JIT warms up once, as in
 * production) and at each rate the proxies take their turn one after the other, so load from elsewhere on a
 * shared machine hits them alike. A proxy leaves the ladder at its first rate that stays unclean after retries.
 */
async function runLadders(opts) {
  const dir = mkdtempSync(join(tmpdir(), 'sipbench-'));
  const lanes = [];
  try {
    for (const name of opts.proxies) {
      const uasPort = await freePort();
      const proxy = name === 'kamailio' ? await startKamailio(uasPort, dir) : name === 'balancer' ? await startBalancer(uasPort, dir, opts.balancerProps) : undefined;
      lanes.push({ name, proxy, uasPort, best: undefined, steps: new Map(), done: false });
    }
    for (const lane of lanes) {
      if (!lane.proxy || opts.warmupSeconds <= 0) continue;
      // Not measured: JIT compilation, first allocations and socket buffers settle, for every proxy alike.
      const w = await runStep(lane.proxy, lane.uasPort, opts.rates[0], opts.warmupSeconds);
      console.log(`${lane.name.padEnd(9)} warm-up at ${opts.rates[0]} calls/s for ${opts.warmupSeconds} s: ${w.clean ? 'clean' : 'not clean'} (not counted)`);
    }
    for (const rate of opts.rates) {
      const active = lanes.filter((l) => !l.done);
      if (active.length === 0) break;
      for (const lane of active) {
        let result;
        for (let attempt = 0; attempt <= opts.retries; attempt++) {
          await sleep(1000);
          result = await runStep(lane.proxy, lane.uasPort, rate, opts.stepSeconds);
          const u = result.uac ?? {};
          console.log(
            `${lane.name.padEnd(9)} ${String(rate).padStart(6)} calls/s ${result.clean ? 'clean ' : 'FAILED'}` +
            `  ok ${u.successful ?? '?'}/${result.calls} failed ${u.failed ?? '?'} retrans ${u.retransmissions ?? '?'}/${result.uas?.retransmissions ?? '?'}` +
            `  achieved ${result.achieved.toFixed(0)}/s` + (Number.isNaN(result.cpuPercent) ? '' : `  proxy CPU ${result.cpuPercent.toFixed(1)}%`) +
            `  load ${loadavg()[0].toFixed(2)}` + (attempt > 0 ? `  (retry ${attempt})` : ''),
          );
          if (result.clean) break;
          // Let queues drain and retransmission timers of the failed step die out before the retry.
          await sleep(2000);
        }
        lane.steps.set(rate, result);
        if (result.clean) lane.best = result;
        else lane.done = true;
      }
    }
  } finally {
    for (const lane of lanes) if (lane.proxy) await lane.proxy.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return lanes;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  console.log(`SIP benchmark ${new Date().toISOString()}: ${opts.stepSeconds} s per step, ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`sipp UAC (-d ${CALL_LENGTH_MS}) → proxy → sipp UAS (20 ms between 180 and 200), UDP; clean = 0 failed calls and 0 retransmissions\n`);
  for (const p of opts.proxies) {
    if (!['direct', 'kamailio', 'balancer'].includes(p)) throw new Error(`unknown proxy ${p}`);
  }
  const lanes = await runLadders(opts);
  const results = new Map(lanes.map((l) => [l.name, l.best]));
  const kam = results.get('kamailio');
  // CPU seconds per call × 1,000 calls/s, as a percentage of one core: independent of ramp-up and tail of the step.
  const cpuPer1000 = (r) => (r && !Number.isNaN(r.cpuSeconds) && r.uac ? (r.cpuSeconds / r.uac.successful) * 1000 * 100 : NaN);
  const rows = [['proxy', 'highest clean rate (calls/s)', 'proxy CPU at that rate', 'CPU per 1,000 calls/s', 'rate vs Kamailio', 'CPU/call vs Kamailio']];
  for (const [p, r] of results) {
    const c = cpuPer1000(r);
    rows.push([
      p === 'direct' ? 'none (sipp → sipp)' : p === 'kamailio' ? 'Kamailio 5.6 (stateless)' : 'sipbalancer',
      r ? String(r.rate) : `< ${opts.rates[0]}`,
      r && !Number.isNaN(r.cpuPercent) ? `${r.cpuPercent.toFixed(1)}%` : '–',
      Number.isNaN(c) ? '–' : `${c.toFixed(1)}% of a core`,
      kam && r ? `${(r.rate / kam.rate).toFixed(2)}×` : '–',
      kam && r && !Number.isNaN(c) && !Number.isNaN(cpuPer1000(kam)) ? `${(c / cpuPer1000(kam)).toFixed(2)}×` : '–',
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log('\n' + line(rows[0]));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows.slice(1)) console.log(line(r));
  // The same comparison at one rate both proxies passed cleanly: CPU per call without the ceiling's noise.
  const kamLane = lanes.find((l) => l.name === 'kamailio');
  const lbLane = lanes.find((l) => l.name === 'balancer');
  if (kamLane && lbLane) {
    const common = opts.rates.filter((r) => kamLane.steps.get(r)?.clean && lbLane.steps.get(r)?.clean).pop();
    if (common !== undefined) {
      const k = cpuPer1000(kamLane.steps.get(common));
      const b = cpuPer1000(lbLane.steps.get(common));
      console.log(`\nAt ${common} calls/s (the highest rate both passed): CPU per 1,000 calls/s Kamailio ${k.toFixed(1)}%, sipbalancer ${b.toFixed(1)}% (${(b / k).toFixed(2)}×).`);
    }
  }
  console.log(`\nLadder: ${opts.rates.join(', ')} calls/s; a failed step is retried ${opts.retries} time(s) before it counts; load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}.`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
