#!/usr/bin/env node
// Soak: sipp UAC → balancer → two sipp UAS nodes over UDP at a steady call rate for N minutes (issue 16 item 5).
// Every 10 s it samples failed/successful calls (sipp's statistics), the balancer's RSS and heap (/lbstat), the
// event-loop delay p99 (/metrics, sipbalancer_event_loop_delay_seconds{quantile="0.99"}), its open file
// descriptors (/proc/<pid>/fd) and the Call-ID affinity entries. Writes the raw samples as JSON and CSV and an SVG
// plot to bench/soak/results/soak-<date>.{json,csv,svg} and prints a table.
//
//   npm run soak -- --minutes 30 --rate 1000 [--call-ms 100] [--interval-seconds 10] [--property key=value ...]
//
// Pick --rate at half the highest clean rate of `npm run bench:sip` on the same machine.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { freeControlPort, freePort, readSippStats } from '../sip/sipp-tools.mjs';
const HERE = dirname(fileURLToPath(import.meta.url));

const readSippStatsOrZero = (csv) => readSippStats(csv) ?? { successful: 0, failed: 0, retransmissions: 0 };
const ROOT = join(HERE, '..', '..');
const UAC = join(ROOT, 'test', 'fixtures', 'sipp', 'uac.xml');
const UAS = join(ROOT, 'test', 'fixtures', 'sipp', 'uas.xml');
const BIN = join(ROOT, 'bin', 'sipbalancer');
const HOST = '127.0.0.1';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function parseArgs(argv) {
  const o = { minutes: 2, rate: 200, callMs: 100, intervalSeconds: 10, props: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => argv[++i];
    if (a === '--minutes') o.minutes = Number(v());
    else if (a === '--rate') o.rate = Number(v());
    else if (a === '--call-ms') o.callMs = Number(v());
    else if (a === '--interval-seconds') o.intervalSeconds = Number(v());
    else if (a === '--property') {
      const [k, ...rest] = v().split('=');
      o.props[k] = rest.join('=');
    } else {
      console.error(`unknown argument ${a}\nusage: npm run soak -- --minutes N --rate R [--call-ms 100] [--interval-seconds 10] [--property key=value ...]`);
      process.exit(2);
    }
  }
  if (![o.minutes, o.rate, o.callMs, o.intervalSeconds].every((n) => Number.isFinite(n) && n > 0)) throw new Error('--minutes, --rate, --call-ms and --interval-seconds must be positive numbers');
  return o;
}

function start(cmd, args, cwd) {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d) => {
    output += d.toString();
    if (output.length > 100_000) output = output.slice(-50_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    pid: child.pid,
    exited,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      try { process.kill(child.pid, signal); } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

function sippArgs(scenario, port, controlPort, dir, name, extra) {
  return ['-sf', scenario, '-i', HOST, '-p', String(port), '-t', 'u1', '-nostdin', '-cp', String(controlPort), '-buff_size', String(4 * 1024 * 1024),
    '-trace_stat', '-stf', join(dir, `${name}.csv`), '-fd', '1', ...extra];
}

async function sample(statisticPort, pid) {
  const stat = (await (await globalThis.fetch(`http://${HOST}:${statisticPort}/lbstat`)).json()).Metrics;
  const metrics = await (await globalThis.fetch(`http://${HOST}:${statisticPort}/metrics`)).text();
  const p99 = /^sipbalancer_event_loop_delay_seconds\{quantile="0\.99"\} (\S+)/m.exec(metrics);
  let fds = 0;
  try { fds = readdirSync(`/proc/${pid}/fd`).length; } catch { /* not Linux */ }
  return {
    rssMb: stat.ProcessRssBytes / 1048576,
    heapMb: stat.ProcessHeapUsedBytes / 1048576,
    eventLoopP99Ms: p99 ? Number(p99[1]) * 1000 : NaN,
    fds,
    affinityEntries: stat.AlgorithmStatistics?.AffinityEntries ?? 0,
    cpuPercent: stat.ProcessCpuUsagePercent,
  };
}

/** A small SVG: one panel per series, x = minutes. */
function svgPlot(samples, title) {
  const series = [
    ['rssMb', 'RSS (MB)'], ['heapMb', 'heap used (MB)'], ['eventLoopP99Ms', 'event-loop delay p99 (ms)'],
    ['failedCalls', 'failed calls (cumulative)'], ['fds', 'open file descriptors'],
  ];
  const W = 640, H = 130, PAD = 44;
  const xs = samples.map((s) => s.seconds / 60);
  const xmax = Math.max(1e-9, ...xs);
  const panels = series.map(([key, label], i) => {
    const ys = samples.map((s) => (Number.isFinite(s[key]) ? s[key] : 0));
    const ymax = Math.max(1e-9, ...ys) * 1.1;
    const top = 30 + i * (H + 20);
    const pts = ys.map((y, j) => `${(PAD + (xs[j] / xmax) * (W - PAD - 10)).toFixed(1)},${(top + H - (y / ymax) * H).toFixed(1)}`).join(' ');
    return `<g><text x="${PAD}" y="${top - 4}" font-size="12">${label}: last ${ys.at(-1)?.toFixed(1)}, max ${Math.max(...ys).toFixed(1)}</text>` +
      `<rect x="${PAD}" y="${top}" width="${W - PAD - 10}" height="${H}" fill="none" stroke="#ccc"/>` +
      `<text x="2" y="${top + 10}" font-size="10">${(ymax).toFixed(1)}</text><text x="2" y="${top + H}" font-size="10">0</text>` +
      `<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="${pts}"/></g>`;
  });
  const height = 30 + series.length * (H + 20) + 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" font-family="sans-serif">` +
    `<text x="${PAD}" y="16" font-size="13" font-weight="bold">${title}</text>${panels.join('')}` +
    `<text x="${PAD}" y="${height - 4}" font-size="10">minutes 0 … ${xmax.toFixed(1)}</text></svg>\n`;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run `npm run build` first');
  const dir = mkdtempSync(join(tmpdir(), 'soak-'));
  const [ext, int, hb, stat, uasA, uasB, uac] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const props = {
    host: HOST, externalUdpPort: ext, externalTcpPort: '', internalUdpPort: int, internalTcpPort: '', heartbeatPort: hb,
    statisticPort: stat, httpPort: '', extraServerNodes: `${HOST}:${uasA},${HOST}:${uasB}`, performanceTestingMode: true, logLevel: 'warn', ...o.props,
  };
  const cfg = join(dir, 'soak.properties');
  writeFileSync(cfg, Object.entries(props).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  const procs = [];
  const stopAll = async () => {
    for (const p of procs.reverse()) await p.stop();
  };
  process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));
  try {
    const lb = start(process.execPath, [BIN, '--config', cfg], ROOT);
    procs.push(lb);
    for (let until = Date.now() + 30_000; !(await globalThis.fetch(`http://${HOST}:${stat}/lbstat`).then((r) => r.ok, () => false)); await sleep(100)) {
      if (Date.now() > until) throw new Error(`the balancer did not start:\n${lb.output()}`);
    }
    for (const [port, name] of [[uasA, 'uasA'], [uasB, 'uasB']]) {
      procs.push(start('sipp', sippArgs(UAS, port, await freeControlPort(), dir, name, []), dir));
    }
    await sleep(500);
    const seconds = Math.round(o.minutes * 60);
    procs.push(start('sipp', [`${HOST}:${ext}`, ...sippArgs(UAC, uac, await freeControlPort(), dir, 'uac',
      ['-r', String(o.rate), '-d', `${o.callMs}ms`, '-timeout', `${seconds}s`, '-recv_timeout', '5000ms'])], dir));
    const uacProc = procs.at(-1);

    console.log(`soak: ${o.minutes} min at ${o.rate} calls/s (calls of ${o.callMs} ms), sampling every ${o.intervalSeconds} s`);
    console.log('   t(s)  ok calls  failed  rss MB  heap MB  ELD p99 ms  fds  affinity');
    const samples = [];
    const t0 = Date.now();
    const done = { v: false };
    void uacProc.exited.then(() => (done.v = true));
    while (!done.v && Date.now() - t0 < (seconds + 5) * 1000) {
      await Promise.race([sleep(o.intervalSeconds * 1000), uacProc.exited]);
      const s = { seconds: Math.round((Date.now() - t0) / 1000), ...(await sample(stat, lb.pid)) };
      const calls = readSippStatsOrZero(join(dir, 'uac.csv'));
      Object.assign(s, { successfulCalls: calls.successful, failedCalls: calls.failed, retransmissions: calls.retransmissions });
      samples.push(s);
      console.log(`${String(s.seconds).padStart(7)} ${String(s.successfulCalls).padStart(9)} ${String(s.failedCalls).padStart(7)} ${s.rssMb.toFixed(1).padStart(7)} ${s.heapMb.toFixed(1).padStart(8)} ${s.eventLoopP99Ms.toFixed(2).padStart(11)} ${String(s.fds).padStart(4)} ${String(s.affinityEntries).padStart(9)}`);
    }
    const final = readSippStatsOrZero(join(dir, 'uac.csv'));
    const out = join(HERE, 'results');
    mkdirSync(out, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
    const base = join(out, `soak-${stamp}`);
    const summary = {
      minutes: o.minutes, rate: o.rate, callMs: o.callMs, properties: o.props, successfulCalls: final.successful, failedCalls: final.failed,
      retransmissions: final.retransmissions, maxRssMb: Math.max(...samples.map((s) => s.rssMb)), maxEventLoopP99Ms: Math.max(...samples.map((s) => s.eventLoopP99Ms)),
      node: process.version, date: new Date().toISOString(),
    };
    writeFileSync(`${base}.json`, JSON.stringify({ summary, samples }, null, 2) + '\n');
    const cols = Object.keys(samples[0] ?? { seconds: 0 });
    writeFileSync(`${base}.csv`, [cols.join(','), ...samples.map((s) => cols.map((c) => s[c]).join(','))].join('\n') + '\n');
    writeFileSync(`${base}.svg`, svgPlot(samples, `soak: ${o.rate} calls/s for ${o.minutes} min — ${final.successful} ok, ${final.failed} failed`));
    console.log(`soak: ${final.successful} calls ok, ${final.failed} failed, ${final.retransmissions} retransmissions; max RSS ${summary.maxRssMb.toFixed(1)} MB, max event-loop p99 ${summary.maxEventLoopP99Ms.toFixed(2)} ms`);
    console.log(`soak: wrote ${base}.json, .csv, .svg`);
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
