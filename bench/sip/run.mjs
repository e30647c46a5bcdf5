#!/usr/bin/env node
// SIP benchmark: sipp UAC → proxy → sipp UAS over UDP at a ladder of call rates, for several proxies in turn
// (none: sipp straight to sipp; Kamailio stateless with 1 and 2 workers; a naive 60-line Node forwarder, the
// yardstick of what Node itself costs; the balancer, also with extra properties such as workers=2). A step is
// clean only with 0 failed calls and 0 retransmissions on both sipps. Prints the highest clean rate, each proxy's
// CPU per call (utime+stime of its processes, from /proc) against Kamailio 1 worker's and the naive forwarder's,
// the load generator's (both sipps') CPU, and writes every step's raw figures to bench/sip/results/<date>.json.
//
//   node bench/sip/run.mjs [--step-seconds 15] [--proxies direct,kamailio,kamailio2,naive,balancer] [--rates 500,1000,...]
//                          [--rounds 1] [--retries 1] [--warmup-seconds 3] [--quick] [--balancer-property key=value ...]
//                          [--balancer-lane key=value[,key=value...] ...] [--node-arg --cpu-prof ...] [--results FILE|none]

import { spawn, execFileSync } from 'node:child_process';
import { machineFacts, resultsPath, writeResults } from '../results.mjs';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeControlPort, freePort, readSippStats } from './sipp-tools.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const UAC_SCENARIO = join(ROOT, 'test', 'fixtures', 'sipp', 'uac.xml');
const UAS_SCENARIO = join(HERE, 'uas-pause.xml');
const KAMAILIO_CFG = join(HERE, 'kamailio.cfg');
const NAIVE_FORWARDER = join(HERE, 'naive-forwarder.mjs');
const BALANCER_BIN = join(ROOT, 'bin', 'sipbalancer');
const HOST = '127.0.0.1';
const CALL_LENGTH_MS = 100;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

const DEFAULT_RATES = [250, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 7000, 8000, 10000, 12000, 14000, 16000, 17500, 20000];
const DEFAULT_PROXIES = ['direct', 'kamailio', 'kamailio2', 'naive', 'balancer'];
const USAGE =
  'usage: node bench/sip/run.mjs [--step-seconds 15] [--quick] [--proxies direct,kamailio,kamailio2,naive,balancer] [--rates 500,1000,...]\n' +
  '         [--rounds 1] [--retries 1] [--warmup-seconds 3] [--balancer-property key=value ...] [--balancer-lane key=value[,key=value] ...]\n' +
  '         [--node-arg ARG ...] [--results FILE|none]';

function parseArgs(argv) {
  const opts = {
    stepSeconds: 15, warmupSeconds: 3, proxies: DEFAULT_PROXIES, rates: DEFAULT_RATES, rounds: 1, retries: 1,
    balancerProps: {}, balancerLanes: [], nodeArgs: [], results: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      return argv[++i];
    };
    const props = (text) => Object.fromEntries(text.split(',').filter(Boolean).map((kv) => {
      const [k, ...v] = kv.split('=');
      return [k.trim(), v.join('=').trim()];
    }));
    if (a.startsWith('--step-seconds')) opts.stepSeconds = Number(value());
    else if (a.startsWith('--proxies')) opts.proxies = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a.startsWith('--rates')) opts.rates = value().split(',').map(Number);
    else if (a.startsWith('--rounds')) opts.rounds = Number(value());
    else if (a.startsWith('--retries')) opts.retries = Number(value());
    else if (a.startsWith('--warmup-seconds')) opts.warmupSeconds = Number(value());
    else if (a === '--quick') opts.stepSeconds = 4;
    // e.g. --balancer-property isSendTrying=false: applies to every balancer lane.
    else if (a.startsWith('--balancer-property')) Object.assign(opts.balancerProps, props(value()));
    // e.g. --balancer-lane workers=2: one more balancer lane with these properties on top.
    else if (a.startsWith('--balancer-lane')) opts.balancerLanes.push(props(value()));
    // e.g. --node-arg --cpu-prof --node-arg --cpu-prof-dir=/tmp/prof: given to the balancer's and the naive forwarder's node.
    else if (a === '--node-arg') opts.nodeArgs.push(argv[++i]);
    else if (a.startsWith('--results')) opts.results = value();
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  if (!(opts.stepSeconds > 0)) throw new Error('--step-seconds must be positive');
  if (!(opts.rounds >= 1)) throw new Error('--rounds must be at least 1');
  for (const p of opts.proxies) if (!DEFAULT_PROXIES.includes(p)) throw new Error(`unknown proxy ${p} (known: ${DEFAULT_PROXIES.join(', ')})`);
  return opts;
}

function isUdpBound(port) {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/udp', 'latin1').split('\n').some((l) => (l.trim().split(/\s+/)[1] ?? '').endsWith(hex));
}

/** Datagrams the kernel dropped (receive buffer full) on the UDP sockets bound to `ports`, from /proc/net/udp. */
function udpDrops(ports) {
  const wanted = new Set(ports.map((p) => p.toString(16).toUpperCase().padStart(4, '0')));
  let drops = 0;
  for (const line of readFileSync('/proc/net/udp', 'latin1').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 12 && wanted.has((f[1] ?? '').split(':')[1])) drops += Number(f[f.length - 1]) || 0;
  }
  return drops;
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

/** utime and stime (clock ticks) of `pid` and all its descendants. */
function cpuTicks(rootPid) {
  const stats = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = readFileSync(`/proc/${name}/stat`, 'latin1');
      // The command name is in parentheses and may contain spaces: fields start after the last ')'.
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(name), { ppid: Number(f[1]), user: Number(f[11]), system: Number(f[12]) });
    } catch { /* exited meanwhile */ }
  }
  const total = { user: 0, system: 0 };
  const queue = [rootPid];
  const seen = new Set();
  while (queue.length) {
    const pid = queue.pop();
    if (seen.has(pid)) continue;
    seen.add(pid);
    const s = stats.get(pid);
    if (s) {
      total.user += s.user;
      total.system += s.system;
    }
    for (const [child, cs] of stats) if (cs.ppid === pid) queue.push(child);
  }
  return total;
}

/** utime+stime (clock ticks) of the children this process has waited for: the sipps, once they have exited. */
function reapedChildTicks() {
  const text = readFileSync('/proc/self/stat', 'latin1');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(f[13]) + Number(f[14]);
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

async function startKamailio(lane, uasPort, dir) {
  const port = await freePort();
  const list = join(dir, `${lane.id}-dispatcher.list`);
  writeFileSync(list, `1 sip:${HOST}:${uasPort}\n`);
  const cfg = readFileSync(KAMAILIO_CFG, 'utf8')
    .replace('#!substdef "!LISTEN_PORT!5060!"', `#!substdef "!LISTEN_PORT!${port}!"`)
    .replace('#!substdef "!DISPATCHER_LIST!/tmp/dispatcher.list!"', `#!substdef "!DISPATCHER_LIST!${list}!"`);
  const cfgPath = join(dir, `${lane.id}.cfg`);
  writeFileSync(cfgPath, cfg);
  // -DD: stay in the foreground but fork the workers; -E: log to stderr; -n: workers per listening socket.
  const args = ['-DD', '-E', '-f', cfgPath, '-P', join(dir, `${lane.id}.pid`), '-Y', dir, '-n', String(lane.workers), '-m', '256'];
  const proc = startProcess('kamailio', args, { cwd: dir });
  await Promise.race([waitUdpBound(port, 10_000, 'kamailio'), proc.exited.then(() => { throw new Error(`kamailio exited:\n${proc.output()}`); })]);
  return { port, ports: [port], pid: proc.child.pid, stop: () => proc.stop('SIGTERM'), output: proc.output };
}

async function startNaive(lane, uasPort, _dir, opts) {
  const port = await freePort();
  const proc = startProcess(process.execPath, [...opts.nodeArgs, NAIVE_FORWARDER, String(port), `${HOST}:${uasPort}`], { cwd: ROOT });
  await Promise.race([waitUdpBound(port, 10_000, 'the naive forwarder'), proc.exited.then(() => { throw new Error(`the naive forwarder exited:\n${proc.output()}`); })]);
  return { port, ports: [port], pid: proc.child.pid, stop: () => proc.stop('SIGTERM'), output: proc.output };
}

async function startBalancer(lane, uasPort, dir, opts) {
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` first');
  const [externalPort, internalPort, heartbeatPort, statisticPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const props = {
    host: HOST,
    externalUdpPort: externalPort,
    externalTcpPort: '',
    internalUdpPort: internalPort,
    internalTcpPort: '',
    heartbeatPort,
    // Served once every worker serves (workers=N binds the UDP port with the first one): the bench waits for it.
    statisticPort,
    httpPort: '',
    extraServerNodes: `${HOST}:${uasPort}`,
    performanceTestingMode: true,
    logLevel: 'warn',
    ...opts.balancerProps,
    ...lane.props,
  };
  const cfgPath = join(dir, `${lane.id}.properties`);
  writeFileSync(cfgPath, Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  const proc = startProcess(process.execPath, [...opts.nodeArgs, BALANCER_BIN, '--config', cfgPath], { cwd: ROOT });
  const ready = async () => {
    await waitUdpBound(externalPort, 60_000, 'the balancer');
    for (let until = Date.now() + 60_000; !(await globalThis.fetch(`http://${HOST}:${statisticPort}/lbstat`).then((r) => r.ok, () => false)); await sleep(100)) {
      if (Date.now() > until) throw new Error('the balancer\'s statistics port did not open within 60 s');
    }
  };
  await Promise.race([ready(), proc.exited.then(() => { throw new Error(`the balancer exited:\n${proc.output()}`); })]);
  await sleep(300);
  return { port: externalPort, ports: [externalPort, internalPort], pid: proc.child.pid, stop: () => proc.stop('SIGTERM'), output: proc.output };
}

/** The lanes to run, in the order they take turns: the named proxies, then one per --balancer-lane. */
function lanesOf(opts) {
  const lanes = [];
  for (const name of opts.proxies) {
    if (name === 'direct') lanes.push({ id: 'direct', label: 'none (sipp → sipp)', start: undefined });
    else if (name === 'kamailio') lanes.push({ id: 'kamailio', label: 'Kamailio 5.6 stateless, 1 worker', workers: 1, start: startKamailio });
    else if (name === 'kamailio2') lanes.push({ id: 'kamailio2', label: 'Kamailio 5.6 stateless, 2 workers', workers: 2, start: startKamailio });
    else if (name === 'naive') lanes.push({ id: 'naive', label: 'naive Node forwarder', start: startNaive });
    else if (name === 'balancer') lanes.push({ id: 'balancer', label: 'sipbalancer', props: {}, start: startBalancer });
  }
  for (const props of opts.balancerLanes) {
    const text = Object.entries(props).map(([k, v]) => `${k}=${v}`).join(' ');
    lanes.push({ id: `balancer ${text}`, label: `sipbalancer ${text}`, props, start: startBalancer });
  }
  return lanes;
}

// --- one step -----------------------------------------------------------------------------------------------

/** One rate step: a fresh UAS on the lane's UAS port, a UAC through `proxy` (or straight to the UAS). */
async function runStep(proxy, uasPort, rate, stepSeconds) {
  const dir = mkdtempSync(join(tmpdir(), 'sipbench-'));
  const uacPort = await freePort();
  const calls = Math.max(1, Math.round(rate * stepSeconds));
  const sippTicks0 = reapedChildTicks();
  const uas = startProcess('sipp', sippArgs({ scenario: UAS_SCENARIO, port: uasPort, controlPort: await freeControlPort(), dir, name: 'uas' }), { cwd: dir });
  try {
    await Promise.race([waitUdpBound(uasPort, 5000, 'sipp UAS'), uas.exited.then(() => { throw new Error(`sipp UAS exited:\n${uas.output()}`); })]);
    const target = proxy ? proxy.port : uasPort;
    const uacArgs = sippArgs({
      scenario: UAC_SCENARIO, port: uacPort, controlPort: await freeControlPort(), remote: `${HOST}:${target}`, dir, name: 'uac',
      extra: ['-m', String(calls), '-r', String(rate), '-d', `${CALL_LENGTH_MS}ms`, '-timeout', `${stepSeconds + 20}s`, '-timeout_error', '-recv_timeout', '5000ms'],
    });
    const ticks0 = proxy ? cpuTicks(proxy.pid) : undefined;
    const drops0 = proxy ? udpDrops(proxy.ports) : 0;
    const t0 = process.hrtime.bigint();
    const load0 = loadavg()[0];
    const uac = startProcess('sipp', uacArgs, { cwd: dir });
    const hard = setTimeout(() => void uac.stop('SIGKILL'), (stepSeconds + 30) * 1000);
    const { code } = await uac.exited;
    clearTimeout(hard);
    const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const ticks1 = proxy ? cpuTicks(proxy.pid) : undefined;
    const cpuUserSeconds = proxy ? (ticks1.user - ticks0.user) / CLK_TCK : NaN;
    const cpuSystemSeconds = proxy ? (ticks1.system - ticks0.system) / CLK_TCK : NaN;
    const cpuSeconds = cpuUserSeconds + cpuSystemSeconds;
    const proxyDrops = proxy ? udpDrops(proxy.ports) - drops0 : 0;
    // Let the UAS finish its last calls (timewait), then collect its side.
    await sleep(800);
    await uas.stop('SIGUSR1', 2000);
    // Both sipps have exited and been waited for: their CPU is in this process's children's times.
    const sippCpuSeconds = (reapedChildTicks() - sippTicks0) / CLK_TCK;
    const u = readSippStats(join(dir, 'uac.csv'));
    const s = readSippStats(join(dir, 'uas.csv'));
    const clean = code === 0 && u !== undefined && u.failed === 0 && u.successful === calls && u.retransmissions === 0 && (s?.retransmissions ?? 0) === 0;
    const achieved = u ? u.successful / wallSeconds : 0;
    return {
      rate, calls, clean, code, wallSeconds, achieved,
      uac: u, uas: s,
      cpuSeconds, cpuUserSeconds, cpuSystemSeconds, proxyDrops,
      cpuPercent: proxy ? (cpuSeconds / wallSeconds) * 100 : NaN,
      sippCpuSeconds,
      load: [load0, loadavg()[0]],
    };
  } finally {
    await uas.stop('SIGKILL', 1000);
    rmSync(dir, { recursive: true, force: true });
  }
}

// --- the ladder ---------------------------------------------------------------------------------------------

/** CPU milliseconds per completed call: independent of the ramp-up and the tail of a step. */
const msPerCall = (cpuSeconds, r) => (r && r.uac && r.uac.successful > 0 && !Number.isNaN(cpuSeconds) ? (cpuSeconds / r.uac.successful) * 1000 : NaN);

function median(values) {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/**
 * The ladder for every lane at once: each proxy runs for the whole ladder (a JIT warms up once, as in
 * production) and at each rate the lanes take their turn one after the other, `rounds` times, so load from
 * elsewhere on a shared machine hits them alike. A lane's rate is clean when every round was (after retries);
 * a lane leaves the ladder at its first rate that is not.
 */
async function runLadders(opts, raw) {
  const dir = mkdtempSync(join(tmpdir(), 'sipbench-'));
  const lanes = lanesOf(opts).map((l) => ({ ...l, proxy: undefined, uasPort: 0, best: undefined, steps: new Map(), done: false }));
  try {
    for (const lane of lanes) {
      lane.uasPort = await freePort();
      lane.proxy = lane.start ? await lane.start(lane, lane.uasPort, dir, opts) : undefined;
    }
    for (const lane of lanes) {
      if (!lane.proxy || opts.warmupSeconds <= 0) continue;
      // Not measured: JIT compilation, first allocations and socket buffers settle, for every proxy alike.
      const w = await runStep(lane.proxy, lane.uasPort, opts.rates[0], opts.warmupSeconds);
      console.log(`${lane.id.padEnd(12)} warm-up at ${opts.rates[0]} calls/s for ${opts.warmupSeconds} s: ${w.clean ? 'clean' : 'not clean'} (not counted)`);
    }
    for (const rate of opts.rates) {
      const active = lanes.filter((l) => !l.done);
      if (active.length === 0) break;
      const rounds = new Map(active.map((l) => [l, []]));
      for (let round = 1; round <= opts.rounds; round++) {
        for (const lane of active) {
          if (rounds.get(lane).some((r) => !r.clean)) continue;
          let result;
          for (let attempt = 0; attempt <= opts.retries; attempt++) {
            await sleep(1000);
            result = await runStep(lane.proxy, lane.uasPort, rate, opts.stepSeconds);
            raw.push({ lane: lane.id, label: lane.label, rate, round, attempt, ...result, proxyMsPerCall: msPerCall(result.cpuSeconds, result), sippMsPerCall: msPerCall(result.sippCpuSeconds, result) });
            const u = result.uac ?? {};
            console.log(
              `${lane.id.padEnd(12)} ${String(rate).padStart(6)} calls/s ${result.clean ? 'clean ' : 'FAILED'}` +
              `  ok ${u.successful ?? '?'}/${result.calls} failed ${u.failed ?? '?'} retrans ${u.retransmissions ?? '?'}/${result.uas?.retransmissions ?? '?'}` +
              `  achieved ${result.achieved.toFixed(0)}/s` +
              (Number.isNaN(result.cpuPercent) ? '' : `  proxy CPU ${result.cpuPercent.toFixed(1)}% ${msPerCall(result.cpuSeconds, result).toFixed(3)} ms/call (sys ${msPerCall(result.cpuSystemSeconds, result).toFixed(3)}) drops ${result.proxyDrops}`) +
              `  sipp ${msPerCall(result.sippCpuSeconds, result).toFixed(3)} ms/call  load ${loadavg()[0].toFixed(2)}` +
              (opts.rounds > 1 ? `  (round ${round})` : '') + (attempt > 0 ? `  (retry ${attempt})` : ''),
            );
            if (result.clean) break;
            // Let queues drain and retransmission timers of the failed step die out before the retry.
            await sleep(2000);
          }
          rounds.get(lane).push(result);
        }
      }
      for (const lane of active) {
        const rs = rounds.get(lane);
        const clean = rs.length === opts.rounds && rs.every((r) => r.clean);
        const step = {
          rate, clean, rounds: rs,
          proxyMsPerCall: median(rs.map((r) => msPerCall(r.cpuSeconds, r))),
          sippMsPerCall: median(rs.map((r) => msPerCall(r.sippCpuSeconds, r))),
          cpuPercent: median(rs.map((r) => r.cpuPercent)),
        };
        lane.steps.set(rate, step);
        if (clean) lane.best = step;
        else lane.done = true;
      }
    }
  } finally {
    for (const lane of lanes) if (lane.proxy) await lane.proxy.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return lanes;
}

// --- the report ---------------------------------------------------------------------------------------------

function printTable(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  console.log(line(rows[0]));
  console.log(`|${widths.map((w, i) => '-'.repeat(w + 1) + (i === 0 ? '-' : ':')).join('|')}|`);
  for (const r of rows.slice(1)) console.log(line(r));
}

/** CPU per call of `lane` against `ref` at the highest rate both passed cleanly. */
function compareAt(lane, ref, rates) {
  if (!lane || !ref || !lane.proxy && lane.id === 'direct') return undefined;
  const rate = rates.filter((r) => lane.steps.get(r)?.clean && ref.steps.get(r)?.clean).pop();
  if (rate === undefined) return undefined;
  const a = lane.steps.get(rate).proxyMsPerCall;
  const b = ref.steps.get(rate).proxyMsPerCall;
  return Number.isNaN(a) || Number.isNaN(b) ? undefined : { rate, ratio: a / b };
}

function report(opts, lanes) {
  const kam = lanes.find((l) => l.id === 'kamailio');
  const naive = lanes.find((l) => l.id === 'naive');
  const fmt = (x, d = 3) => (x === undefined || Number.isNaN(x) ? '–' : x.toFixed(d));
  const rows = [[
    'proxy', 'highest clean rate (calls/s)', 'proxy CPU at that rate', 'proxy CPU ms/call', 'sipp CPU ms/call', 'rate vs Kamailio 1',
    'CPU/call vs Kamailio 1 (at rate)', 'CPU/call vs naive (at rate)',
  ]];
  const summary = [];
  for (const lane of lanes) {
    const r = lane.best;
    const vsKam = lane !== kam && lane.proxy ? compareAt(lane, kam, opts.rates) : undefined;
    const vsNaive = lane !== naive && lane.proxy ? compareAt(lane, naive, opts.rates) : undefined;
    rows.push([
      lane.label,
      r ? String(r.rate) : `< ${opts.rates[0]}`,
      r && !Number.isNaN(r.cpuPercent) ? `${r.cpuPercent.toFixed(1)}%` : '–',
      fmt(r?.proxyMsPerCall),
      fmt(r?.sippMsPerCall),
      kam?.best && r ? `${(r.rate / kam.best.rate).toFixed(2)}×` : '–',
      lane === kam ? '1.00×' : vsKam ? `${vsKam.ratio.toFixed(2)}× (${vsKam.rate})` : '–',
      lane === naive ? '1.00×' : vsNaive ? `${vsNaive.ratio.toFixed(2)}× (${vsNaive.rate})` : '–',
    ]);
    summary.push({
      lane: lane.id, label: lane.label, highestCleanRate: r?.rate ?? null, proxyCpuPercent: r?.cpuPercent ?? null,
      proxyMsPerCall: r?.proxyMsPerCall ?? null, sippMsPerCall: r?.sippMsPerCall ?? null,
      vsKamailio1: vsKam ?? null, vsNaive: vsNaive ?? null,
    });
  }
  console.log('');
  printTable(rows);
  console.log('\nms/call: CPU milliseconds (utime+stime) per completed call at the highest clean rate (median of the rounds); ×100 it is');
  console.log('the % of one core per 1,000 calls/s. "vs" columns: CPU per call against the reference at the highest rate both passed.');
  return summary;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const startedAt = new Date();
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? '?'})`;
  const versions = {
    node: process.version,
    sipp: (() => { try { return execFileSync('sipp', ['-v'], { encoding: 'latin1' }).match(/v[\d.]+/)?.[0]; } catch (e) { return String(e.stdout ?? '').match(/v[\d.]+/)?.[0]; } })(),
    kamailio: (() => { try { return execFileSync('kamailio', ['-v'], { encoding: 'latin1' }).match(/kamailio ([\d.]+)/)?.[1]; } catch { return undefined; } })(),
  };
  console.log(`SIP benchmark ${startedAt.toISOString()}: ${opts.stepSeconds} s per step, ${opts.rounds} round(s), ${machine}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`sipp UAC (-d ${CALL_LENGTH_MS}) → proxy → sipp UAS (20 ms between 180 and 200), UDP; clean = 0 failed calls and 0 retransmissions\n`);
  const raw = [];
  const loadStart = loadavg();
  const lanes = await runLadders(opts, raw);
  const summary = report(opts, lanes);
  const loadEnd = loadavg();
  console.log(`\nLadder: ${opts.rates.join(', ')} calls/s; a failed step is retried ${opts.retries} time(s) before it counts; load average at the start ${loadStart.map((l) => l.toFixed(2)).join(' ')}, at the end ${loadEnd.map((l) => l.toFixed(2)).join(' ')}.`);
  writeResults(resultsPath(join(HERE, 'results'), opts.results, startedAt), {
    startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), machine, commit: machineFacts().commit, versions, loadStart, loadEnd,
    options: { ...opts, results: undefined }, summary, steps: raw,
  });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
