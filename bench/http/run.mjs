#!/usr/bin/env node
// HTTP benchmark (issue 6 item 8): wrk against nginx serving an 827-byte static file directly, through
// HAProxy (nbthread 1, roundrobin, cookie stickiness, http-reuse always) and through sipbalancer with the
// node registered over the JSON heartbeat and a sticky JSESSIONID. Prints one table with the ratio to HAProxy.
//
//   node bench/http/run.mjs [--duration 15] [--connections 50] [--rounds 1]
//                           [--only nginx,haproxy,naive,sipbalancer,haproxy2,sipbalancer2] [--cpu-prof] [--results FILE|none]
//
// Every run's wrk figures go to bench/http/results/<date>.json (--results), so a published table can be checked.
//
// haproxy2 / sipbalancer2: HAProxy with `nbthread 2` and sipbalancer with `workers=2`, so the table shows what
// a second core buys; each row's ratio is against HAProxy with as many threads as the row has processes.
//
// With --rounds N every target runs N times, alternating, and the median run of each is reported: on a
// shared machine this keeps a burst of load elsewhere from landing on one target only.
//
// The "naive" row is the smallest keep-alive node:http proxy (bench/http/naive-proxy.mjs), as a reference.
//
// Needs nginx (nginx-light), haproxy and wrk on PATH, and `npm run build` done. Every process it starts is
// stopped by its own PID; the temporary directory is removed.

import { spawn, execFileSync } from 'node:child_process';
import { machineFacts, resultsPath, writeResults } from '../results.mjs';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const DURATION = Number(opt('duration', '15'));
const CONNECTIONS = Number(opt('connections', '50'));
const ONLY = opt('only', 'nginx,haproxy,naive,sipbalancer,haproxy2,sipbalancer2').split(',');
const PROFILE = args.includes('--cpu-prof');
const ROUNDS = Number(opt('rounds', '1'));
const RESULTS = opt('results', undefined);
const lbChecks = [];
const beats = [];

const dir = mkdtempSync(join(tmpdir(), 'sipbalancer-bench-http-'));
const children = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function start(cmd, argv, name, env) {
  const child = spawn(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  child.output = () => out;
  child.on('exit', (code, signal) => {
    if (!child.stopping) console.error(`${name} exited early (${code ?? signal}):\n${out.slice(-2000)}`);
  });
  children.push(child);
  return child;
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.stopping = true;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(child.pid, 'SIGTERM');
  const t = setTimeout(() => child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/** One request on a fresh connection: status and body. */
function httpRequest(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function waitHttp(url, headers = {}, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await httpRequest(url, { headers });
      if (res.status === 200) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer 200 in ${timeoutMs} ms`);
}

function toMs(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

/** Runs wrk without blocking the event loop (the heartbeats to the balancer must keep going). */
async function wrk(url, headers) {
  const argv = ['-t1', `-c${CONNECTIONS}`, `-d${DURATION}s`, '--latency'];
  for (const h of headers) argv.push('-H', h);
  argv.push(url);
  const out = await new Promise((resolve, reject) => {
    const child = spawn('wrk', argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited with ${code}`))));
  });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? '');
  const p99 = toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const errors = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? '0';
  const socketErrors = /Socket errors:.*/.exec(out)?.[0] ?? '';
  return { rps, p50, p99, errors: Number(errors), socketErrors, raw: out };
}

async function main() {
  // The 827-byte static file.
  const docroot = join(dir, 'www');
  execFileSync('mkdir', ['-p', docroot, join(dir, 'tmp')]);
  const page = '<!doctype html><title>bench</title>' + 'x'.repeat(827 - 36) + '\n';
  writeFileSync(join(docroot, 'index.html'), page);
  if (Buffer.byteLength(page) !== 827) throw new Error('page is not 827 bytes');

  const nginxPort = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:${nginxPort};
    root ${docroot};
  }
}
`,
  );
  start('nginx', ['-e', `${dir}/nginx-error.log`, '-p', dir, '-c', join(dir, 'nginx.conf')], 'nginx');
  await waitHttp(`http://127.0.0.1:${nginxPort}/index.html`);

  /** Every target stays up; the wrk runs alternate between them, so load from elsewhere hits all alike. */
  const targets = [];
  const cookieHeaders = ['Cookie: SRVID=s1; JSESSIONID=abc.node1'];

  if (ONLY.includes('nginx')) {
    targets.push({ name: 'nginx direct', url: `http://127.0.0.1:${nginxPort}/index.html`, headers: [] });
  }

  for (const [lane, threads] of [['haproxy', 1], ['haproxy2', 2]]) {
    if (!ONLY.includes(lane)) continue;
    const haproxyPort = await freePort();
    writeFileSync(
      join(dir, `haproxy${threads}.cfg`),
      `global
  nbthread ${threads}
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:${haproxyPort}
  default_backend be
backend be
  balance roundrobin
  cookie SRVID insert indirect nocache
  server s1 127.0.0.1:${nginxPort} cookie s1
`,
    );
    const haproxy = start('haproxy', ['-db', '-f', join(dir, `haproxy${threads}.cfg`)], 'haproxy');
    await waitHttp(`http://127.0.0.1:${haproxyPort}/index.html`);
    void haproxy;
    targets.push({ name: `HAProxy 2.6 (nbthread ${threads})`, cores: threads, url: `http://127.0.0.1:${haproxyPort}/index.html`, headers: cookieHeaders });
  }

  if (ONLY.includes('naive')) {
    const naivePort = await freePort();
    const naive = start(process.execPath, [join(ROOT, 'bench', 'http', 'naive-proxy.mjs'), String(naivePort), String(nginxPort)], 'naive proxy');
    await waitHttp(`http://127.0.0.1:${naivePort}/index.html`);
    void naive;
    targets.push({ name: 'naive node:http keep-alive proxy', url: `http://127.0.0.1:${naivePort}/index.html`, headers: cookieHeaders });
  }

  for (const [lane, workers] of [['sipbalancer', 1], ['sipbalancer2', 2]]) {
    if (!ONLY.includes(lane)) continue;
    const [externalPort, internalPort, heartbeatPort, statisticPort, httpPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const props = join(dir, `lb${workers}.properties`);
    writeFileSync(
      props,
      [
        'host=127.0.0.1',
        `externalPort=${externalPort}`,
        `internalPort=${internalPort}`,
        `heartbeatPort=${heartbeatPort}`,
        `statisticPort=${statisticPort}`,
        `httpPort=${httpPort}`,
        'nodeTimeout=5000',
        'heartbeatInterval=500',
        'logLevel=warn',
        `workers=${workers}`,
      ].join('\n') + '\n',
    );
    const profileDir = join(tmpdir(), 'sipbalancer-http-profiles');
    const nodeArgs = PROFILE ? [`--cpu-prof`, `--cpu-prof-dir=${profileDir}`] : [];
    if (PROFILE) console.log(`CPU profile of the balancer goes to ${profileDir}`);
    const lb = start(process.execPath, [...nodeArgs, join(ROOT, 'bin', 'sipbalancer'), '--config', props, '--log-format', 'json'], 'sipbalancer');
    await waitHttp(`http://127.0.0.1:${statisticPort}/lbstat`);
    const sessionId = `bench-${process.pid}-${workers}`;
    const post = (body) =>
      httpRequest(`http://127.0.0.1:${heartbeatPort}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await post({ start: { hostName: 'nginx', ip: '127.0.0.1', httpPort: nginxPort, jvmRoute: 'node1', version: '0', sessionId } });
    const beat = setInterval(() => post({ heartbeat: { sessionId } }).catch(() => undefined), 500);
    await waitHttp(`http://127.0.0.1:${httpPort}/index.html`, { cookie: 'JSESSIONID=abc.node1' });
    targets.push({ name: workers > 1 ? `sipbalancer (sticky, workers=${workers})` : 'sipbalancer (jvmRoute sticky)', cores: workers, url: `http://127.0.0.1:${httpPort}/index.html`, headers: cookieHeaders });
    lbChecks.push(async () => {
    const stat = JSON.parse((await httpRequest(`http://127.0.0.1:${statisticPort}/lbstat`)).body).Metrics;
    if (stat.HttpBackendErrors > 0 || Object.keys(stat.HttpResponsesByStatusCode).some((k) => k !== '200')) {
      console.error('sipbalancer responses by status:', JSON.stringify(stat.HttpResponsesByStatusCode), 'backend errors:', stat.HttpBackendErrors);
      console.error(lb.output().slice(-3000));
    }
    });
    beats.push(beat);
  }

  // Rounds: each target once per round, in turn; the median round of each target is reported.
  const runs = new Map(targets.map((t) => [t.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of targets) {
      const r = await wrk(t.url, t.headers);
      runs.get(t.name).push(r);
      if (ROUNDS > 1) console.error(`round ${round + 1}/${ROUNDS} ${t.name}: ${Math.round(r.rps)} req/s, p99 ${r.p99.toFixed(2)} ms`);
    }
  }
  for (const check of lbChecks) await check();
  for (const beat of beats) clearInterval(beat);
  const median = (list) => [...list].sort((a, b) => a.rps - b.rps)[Math.floor(list.length / 2)];
  const results = targets.map((t) => ({ name: t.name, cores: t.cores, ...median(runs.get(t.name)) }));

  // Each row against HAProxy with as many threads as the row has processes (one when there is no such lane).
  const haproxyFor = (r) => results.find((h) => h.name.startsWith('HAProxy') && h.cores === (r.cores ?? 1)) ?? results.find((h) => h.name.startsWith('HAProxy'));
  void stop;
  const pad = (s, n) => String(s).padEnd(n);
  const lines = [
    `wrk -t1 -c${CONNECTIONS} -d${DURATION}s --latency, 827-byte static file, node ${process.version}, ${new Date().toISOString()}` +
      (ROUNDS > 1 ? `, median of ${ROUNDS} alternating rounds` : ''),
    '',
    `| ${pad('target', 36)} | ${pad('req/s', 9)} | ${pad('p50 ms', 7)} | ${pad('p99 ms', 7)} | ${pad('req/s vs HAProxy', 16)} | ${pad('p99 vs HAProxy', 14)} |`,
    `|${'-'.repeat(38)}|${'-'.repeat(11)}|${'-'.repeat(9)}|${'-'.repeat(9)}|${'-'.repeat(18)}|${'-'.repeat(16)}|`,
  ];
  for (const r of results) {
    const haproxy = haproxyFor(r);
    const ratio = haproxy ? (r.rps / haproxy.rps).toFixed(2) + '×' : '-';
    const p99ratio = haproxy ? (r.p99 / haproxy.p99).toFixed(2) + '×' : '-';
    lines.push(`| ${pad(r.name, 36)} | ${pad(Math.round(r.rps), 9)} | ${pad(r.p50.toFixed(2), 7)} | ${pad(r.p99.toFixed(2), 7)} | ${pad(ratio, 16)} | ${pad(p99ratio, 14)} |`);
    if (r.errors > 0 || r.socketErrors) lines.push(`  ${r.name}: ${r.errors} non-2xx/3xx responses ${r.socketErrors}`);
  }
  console.log(lines.join('\n'));
  writeResults(resultsPath(join(ROOT, 'bench', 'http', 'results'), RESULTS), {
    date: new Date().toISOString(), ...machineFacts(), options: { duration: DURATION, connections: CONNECTIONS, rounds: ROUNDS, only: ONLY },
    table: results.map(({ raw: _raw, ...r }) => r),
    runs: targets.flatMap((t) => runs.get(t.name).map(({ raw: _raw, ...r }, round) => ({ target: t.name, cores: t.cores, round: round + 1, ...r }))),
  });
}

try {
  await main();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  for (const child of children.reverse()) await stop(child);
  try {
    const log = readFileSync(join(dir, 'nginx-error.log'), 'utf8');
    if (log.includes('[emerg]')) console.error(log);
  } catch {
    /* no log */
  }
  rmSync(dir, { recursive: true, force: true });
}
