// The dashboard page served on statisticPort: one self-contained HTML document (inline CSS and script, no
// asset from anywhere) that polls /dashboard/state and redraws. Every value is set with textContent, never
// parsed as HTML: node names and reasons come from heartbeats and must not become markup.

const STYLE = `
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d2430;--dim:#5d6778;--ok:#1b7f3b;--warn:#a86400;--bad:#b3261e;--line:#dde1e7}
@media (prefers-color-scheme:dark){:root{--bg:#14171c;--card:#1d2128;--ink:#e7eaf0;--dim:#9aa3b2;--ok:#5cc67e;--warn:#e3a13b;--bad:#f0766d;--line:#2e343e}}
*{box-sizing:border-box}body{margin:0;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--ink)}
header{display:flex;flex-wrap:wrap;gap:.3rem 1rem;align-items:baseline;padding:.8rem 1rem;border-bottom:1px solid var(--line);background:var(--card)}
header h1{font-size:1.15rem;margin:0}header span{color:var(--dim);font-size:.85rem}
main{padding:1rem;display:grid;gap:1rem;grid-template-columns:repeat(auto-fit,minmax(min(100%,20rem),1fr))}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.8rem 1rem;min-width:0}
section.wide{grid-column:1/-1}h2{font-size:.8rem;text-transform:uppercase;letter-spacing:.05em;color:var(--dim);margin:0 0 .6rem}
.rates{display:grid;grid-template-columns:repeat(3,1fr);gap:.6rem}.rate b{display:block;font-size:1.5rem;font-variant-numeric:tabular-nums}
.rate small{color:var(--dim)}svg{width:100%;height:32px;display:block}svg polyline{fill:none;stroke:currentColor;stroke-width:1.5}
.kv{display:grid;grid-template-columns:1fr auto;gap:.2rem 1rem;font-variant-numeric:tabular-nums}.kv dt{color:var(--dim)}.kv dd{margin:0;text-align:right}
table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}th,td{text-align:left;padding:.35rem .4rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.75rem;color:var(--dim);font-weight:600}.state-active{color:var(--ok)}.state-graceful{color:var(--warn)}.state-bad{color:var(--bad)}
.empty{color:var(--dim);font-style:italic}ol{list-style:none;margin:0;padding:0}li{padding:.25rem 0;border-bottom:1px solid var(--line);overflow-wrap:anywhere}
li time{color:var(--dim);font-size:.8rem;margin-right:.5rem}#status.stale{color:var(--bad)}
@media (max-width:40rem){thead{display:none}table,tbody,tr,td{display:block}tr{border-bottom:2px solid var(--line);padding:.3rem 0}
td{border:0;padding:.1rem 0;display:flex;justify-content:space-between;gap:1rem}td::before{content:attr(data-label);color:var(--dim);font-size:.8rem}}
`;

const SCRIPT = `
'use strict';
const $ = (id) => document.getElementById(id);
const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; };
const age = (ms) => ms === undefined || ms === null ? '–' : ms < 1000 ? ms + ' ms' : ms < 120000 ? (ms / 1000).toFixed(1) + ' s' : Math.round(ms / 60000) + ' min';
const clock = (at) => new Date(at).toLocaleTimeString();
const rate = (r) => r < 10 ? r.toFixed(2) : r < 100 ? r.toFixed(1) : Math.round(r).toString();
function spark(svg, series) {
  const max = Math.max(1, ...series);
  const n = Math.max(2, series.length);
  const pts = series.map((v, i) => (i * 100 / (n - 1)).toFixed(1) + ',' + (30 - v * 28 / max).toFixed(1)).join(' ');
  svg.replaceChildren();
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', pts);
  svg.appendChild(line);
}
function cell(tr, label, text, cls) { const td = el('td', text, cls); td.dataset.label = label; tr.appendChild(td); return td; }
function drawNodes(nodes) {
  const body = $('nodes');
  body.replaceChildren();
  if (nodes.length === 0) { const tr = el('tr'); const td = el('td', 'no node', 'empty'); td.colSpan = 7; tr.appendChild(td); body.appendChild(tr); return; }
  for (const n of nodes) {
    const tr = el('tr');
    tr.dataset.nodeId = n.id;
    cell(tr, 'Node', n.hostname + ' ' + n.address);
    cell(tr, 'Transports', n.transports.join(' ') || '–');
    cell(tr, 'Version', n.version + (n.latest ? '' : ' (old)'));
    cell(tr, 'State', n.state + (n.reason ? ': ' + n.reason : ''), 'state-' + n.state);
    cell(tr, 'Heartbeat', n.probe ? 'probe ' + n.probe.state + ', ' + age(n.probe.ageMs) + (n.probe.rttMs !== undefined ? ' (rtt ' + n.probe.rttMs + ' ms)' : '') : age(n.heartbeatAgeMs));
    cell(tr, 'New calls', n.newCalls);
    cell(tr, 'Requests', n.routedRequests);
    body.appendChild(tr);
  }
}
function drawKv(id, entries) {
  const dl = $(id);
  dl.replaceChildren();
  if (entries.length === 0) { dl.appendChild(el('dt', 'none', 'empty')); dl.appendChild(el('dd', '')); return; }
  for (const [k, v] of entries) { dl.appendChild(el('dt', k)); dl.appendChild(el('dd', v)); }
}
function drawEvents(id, events) {
  const ol = $(id);
  ol.replaceChildren();
  if (events.length === 0) { ol.appendChild(el('li', 'nothing yet', 'empty')); return; }
  for (const e of events) { const li = el('li'); li.dataset.kind = e.kind; li.appendChild(el('time', clock(e.at))); li.appendChild(document.createTextNode(e.text)); ol.appendChild(li); }
}
function draw(s) {
  $('version').textContent = 'v' + s.version;
  $('algorithm').textContent = s.algorithm;
  $('uptime').textContent = 'up ' + age(s.uptimeSeconds * 1000);
  for (const p of ['sip', 'http', 'smpp']) { $('rate-' + p).textContent = rate(s.rates[p].perSecond); spark($('spark-' + p), s.rates[p].series); }
  $('window').textContent = s.rates.windowSeconds;
  drawNodes(s.nodes);
  drawKv('activity', [['Active calls', s.activeCalls], ['SIP connections', s.connections.sip], ['HTTP connections', s.connections.http], ['SMPP connections (ESME and SMSC sides)', s.connections.smpp], ['Config reloads (failed)', s.reloads.succeeded + ' (' + s.reloads.failed + ')']]);
  drawKv('dropped', Object.entries(s.dropped));
  drawEvents('events', s.nodeEvents);
  drawEvents('reloads', s.reloadEvents);
}
let failures = 0;
async function poll() {
  try {
    const res = await fetch('/dashboard/state', { cache: 'no-store', credentials: 'same-origin' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    draw(await res.json());
    failures = 0;
    $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
    $('status').className = '';
  } catch (err) {
    failures++;
    $('status').textContent = 'no answer from the balancer (' + err.message + ')';
    $('status').className = 'stale';
  }
  setTimeout(poll, failures > 0 ? 5000 : 2000);
}
poll();
`;

const BODY = `
<header><h1>sipbalancer</h1><span id="version"></span><span id="algorithm"></span><span id="uptime"></span><span id="status">loading…</span></header>
<main>
<section class="wide"><h2>Rates, per second over the last <span id="window">60</span> s</h2>
<div class="rates">
<div class="rate"><small>SIP messages</small><b id="rate-sip">–</b><svg id="spark-sip" viewBox="0 0 100 32" preserveAspectRatio="none"></svg></div>
<div class="rate"><small>HTTP requests</small><b id="rate-http">–</b><svg id="spark-http" viewBox="0 0 100 32" preserveAspectRatio="none"></svg></div>
<div class="rate"><small>SMPP requests</small><b id="rate-smpp">–</b><svg id="spark-smpp" viewBox="0 0 100 32" preserveAspectRatio="none"></svg></div>
</div></section>
<section class="wide"><h2>Nodes</h2><table><thead><tr><th>Node</th><th>Transports</th><th>Version</th><th>State</th><th>Heartbeat / probe</th><th>New calls</th><th>Requests</th></tr></thead><tbody id="nodes"></tbody></table></section>
<section><h2>Activity</h2><dl class="kv" id="activity"></dl></section>
<section><h2>Dropped, by reason</h2><dl class="kv" id="dropped"></dl></section>
<section><h2>Node events</h2><ol id="events"></ol></section>
<section><h2>Configuration reloads</h2><ol id="reloads"></ol></section>
</main>
`;

export const DASHBOARD_STYLE = STYLE;
export const DASHBOARD_SCRIPT = SCRIPT;

/** The whole page. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<link rel="icon" href="data:,"><title>sipbalancer dashboard</title><style>${STYLE}</style></head>
<body>${BODY}<script>${SCRIPT}</script></body></html>
`;
