// The reference row of the HTTP benchmark: the smallest keep-alive node:http proxy (no node choice, no
// statistics, no header rules), to show what the balancer's own work costs on top of Node's HTTP stack.
//   node bench/http/naive-proxy.mjs <listenPort> <targetPort>

import http from 'node:http';

const [port, target] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 256 });
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);
http
  .createServer((req, res) => {
    const upstream = http.request({ host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: req.rawHeaders, agent, setHost: false }, (r) => {
      const headers = [];
      for (let i = 0; i < r.rawHeaders.length; i += 2) if (!HOP.has(r.rawHeaders[i].toLowerCase())) headers.push(r.rawHeaders[i], r.rawHeaders[i + 1]);
      res.writeHead(r.statusCode, headers);
      r.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  })
  .listen(port, '127.0.0.1');
