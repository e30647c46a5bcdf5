// SMPP benchmark: submit_sm/s and latency through the broker, against HAProxy in TCP mode and a direct
// connection to the same SMSC simulator. One command: `npm run build && node bench/smpp/run.mjs`.
// Options: --seconds N (measured time per run, default 3), --warmup N (default 1), --repeat N (runs per
// cell, interleaved across paths; the median is reported; default 3), --haproxy-threads N (nbthread;
// default: HAProxy's own, one thread per CPU). Two more paths, HAProxy nbthread 2 and the broker with
// workers=2, show what a second core buys; each is compared with HAProxy nbthread 2. "broker" is regular mode
// (one SMSC bind per ESME); "broker mux" is mux mode with every ESME of one system_id, so all of them share one
// bind to the SMSC (the many-ESMEs lane: 16 binds × window 10). --results FILE (default
// bench/smpp/results/<date>.json; `none` for no file): every run's raw figures, so a published table can be checked.

import { spawn, execFileSync } from 'node:child_process';
import { machineFacts, resultsPath, writeResults } from '../results.mjs';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const seconds = arg('seconds', 3);
const warmup = arg('warmup', 1);
const repeat = arg('repeat', 3);
const haproxyThreads = arg('haproxy-threads', 0);
const resultsArg = process.argv.includes('--results') ? process.argv[process.argv.indexOf('--results') + 1] : undefined;
const scenarios = [
  { binds: 1, window: 10 },
  { binds: 4, window: 50 },
  { binds: 16, window: 10 },
];

if (!existsSync(join(root, 'dist', 'cli.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

const children = [];
const dir = mkdtempSync(join(tmpdir(), 'smpp-bench-'));
function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function start(cmd, args, readyText, opts = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} not ready: ${out.slice(-2000)}`)), 15000);
    const onData = (d) => {
      out += d.toString();
      if (readyText && out.includes(readyText)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${cmd} exited with ${code}: ${out.slice(-2000)}`)));
  });
}

async function waitPort(port) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} never opened`);
}

const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'latin1' }).trim()) || 100;
/** CPU seconds (user + system, all threads) used so far by a process and its children (workers), from /proc. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  let children = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { /* no children file */ }
  return (Number(fields[11]) + Number(fields[12])) / clockTicks + children.reduce((sum, c) => sum + cpuSeconds(c), 0);
}

/** Runs the load generator; with `pid`, also the CPU time that process spent per submit_sm round trip. */
async function measure(port, sc, pid, systemId) {
  const before = pid ? cpuSeconds(pid) : 0;
  const r = await loadgen(port, sc, systemId);
  if (pid) {
    const total = r.count * ((seconds + warmup) / seconds); // the warm-up ran at about the same rate
    r.cpuUs = ((cpuSeconds(pid) - before) * 1e6) / total;
  }
  return r;
}

function loadgen(port, { binds, window }, systemId) {
  return new Promise((resolve, reject) => {
    const args = [join(here, 'loadgen.mjs'), port, binds, window, seconds, warmup, ...(systemId ? [systemId] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop())) : reject(new Error(`loadgen failed: ${out}`))));
  });
}

const simPort = await freePort();
await start(process.execPath, [join(here, 'smsc-sim.mjs'), simPort], 'ready');

async function startHaproxy(threads) {
  const port = await freePort();
  const cfg = join(dir, `haproxy-${threads}.cfg`);
  writeFileSync(cfg, [
    'global', '  maxconn 4000', ...(threads > 0 ? [`  nbthread ${threads}`] : []), 'defaults', '  mode tcp', '  timeout connect 5s', '  timeout client 120s', '  timeout server 120s',
    'frontend smpp', `  bind 127.0.0.1:${port}`, '  default_backend smsc',
    'backend smsc', `  server sim 127.0.0.1:${simPort}`, '',
  ].join('\n'));
  const child = spawn('haproxy', ['-f', cfg, '-db'], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  await waitPort(port);
  return { port, pid: child.pid };
}

/** The broker with `workers` processes (workers=2 beside HAProxy nbthread 2: what a second core buys), in regular or mux mode. */
async function startBroker(workers, mux = false) {
  const port = await freePort();
  const [sipPort, heartbeatPort, statisticPort] = [await freePort(), await freePort(), await freePort()];
  const props = join(dir, `lb-${workers}${mux ? '-mux' : ''}.properties`);
  writeFileSync(props, [
    'host=127.0.0.1', `externalPort=${sipPort}`, `heartbeatPort=${heartbeatPort}`, `statisticPort=${statisticPort}`, 'httpPort=',
    `smppPort=${port}`, `remoteServers=127.0.0.1:${simPort}`,
    'timeoutResponse=10000', 'timeoutEnquire=60000', 'logLevel=warn', `workers=${workers}`, `muxMode=${mux}`, '',
  ].join('\n'));
  const child = spawn(process.execPath, [join(root, 'bin', 'sipbalancer'), '--config', props, '--log-format', 'json'], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  await waitPort(port);
  // With workers the port is bound as soon as the first worker listens: wait for the statistics port (all serve).
  await waitPort(statisticPort);
  return { port, pid: child.pid };
}

const haproxy = await startHaproxy(haproxyThreads);
const haproxy2 = await startHaproxy(2);
const broker = await startBroker(1);
const broker2 = await startBroker(2);
const brokerMux = await startBroker(1, true);

const paths = [
  ['direct', simPort, 0], ['HAProxy TCP', haproxy.port, haproxy.pid], ['broker', broker.port, broker.pid],
  ['broker mux', brokerMux.port, brokerMux.pid, 'benchmux'],
  ['HAProxy TCP nbthread 2', haproxy2.port, haproxy2.pid], ['broker workers=2', broker2.port, broker2.pid],
];
const median = (runs, key) => {
  const v = runs.map((r) => r[key]).sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)];
};
const rows = [];
const raw = [];
for (const sc of scenarios) {
  const runs = Object.fromEntries(paths.map(([name]) => [name, []]));
  // Interleaved, so that a burst of load from elsewhere hits every path alike.
  for (let i = 0; i < repeat; i++) {
    for (const [name, port, pid, systemId] of paths) {
      const run = await measure(port, sc, pid, systemId);
      runs[name].push(run);
      raw.push({ scenario: sc, path: name, round: i + 1, ...run });
    }
  }
  const results = Object.fromEntries(paths.map(([name]) => [name, {
    rate: median(runs[name], 'rate'), p50: median(runs[name], 'p50'), p99: median(runs[name], 'p99'), cpuUs: median(runs[name], 'cpuUs'),
    errors: runs[name].reduce((a, r) => a + r.errors, 0),
  }]));
  for (const [name] of paths) {
    const r = results[name];
    rows.push({ scenario: `${sc.binds} bind × window ${sc.window}`, target: name, ...r, ratio: r.rate / results[name.endsWith('2') ? 'HAProxy TCP nbthread 2' : 'HAProxy TCP'].rate });
  }
}

const fmt = (n, d = 0) => n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
console.log(`\nSMPP submit_sm round trips: median of ${repeat} interleaved runs of ${seconds} s (after ${warmup} s warm-up); HAProxy nbthread ${haproxyThreads || 'default'}; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}\n`);
console.log('| scenario | path | submit_sm/s | p50 ms | p99 ms | vs HAProxy | proxy CPU µs per round trip |');
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const cpu = Number.isFinite(r.cpuUs) ? fmt(r.cpuUs, 1) : '–';
  console.log(`| ${r.scenario} | ${r.target} | ${fmt(r.rate)} | ${fmt(r.p50, 3)} | ${fmt(r.p99, 3)} | ${fmt(r.ratio, 2)}× | ${cpu} |${r.errors ? ` ${r.errors} errors` : ''}`);
}
writeResults(resultsPath(join(here, 'results'), resultsArg), {
  date: new Date().toISOString(), ...machineFacts(), options: { seconds, warmup, repeat, haproxyThreads: haproxyThreads || 'default' },
  table: rows, runs: raw,
});
cleanup();
process.exit(0);
