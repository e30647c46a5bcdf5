// A custom balancer algorithm for sipbalancer: routes calls by the caller's country code, the rest round
// robin. Use it with
//
//   algorithmClass=./custom-algorithm.example.js      (a path relative to lb.properties, or a package name)
//   prefixNodeMap=+33:10.0.0.5,+49:10.0.0.6           (this module's own key: any key of lb.properties
//                                                      reaches init() in ctx.properties)
//
// This file is an ES module because the package around it says "type": "module"; copied elsewhere, name
// it .mjs (or write CommonJS with module.exports = { createAlgorithm }).
//
// The module exports, as `default`, `createAlgorithm` or `Algorithm`, one of: a class (instantiated with
// `new`, no arguments), a factory function (called with no arguments) or an object. The algorithm needs
// two methods; the others are optional:
//
//   nodesChanged(live)             required. `live` is every node of the latest version (any state);
//                                  rebuild what the picks need here, picks are far more frequent.
//   pickForSipRequest(req)         required. An initial request from a client: return one of the nodes
//                                  given to nodesChanged, or undefined (the client gets 503 Service
//                                  Unavailable with Retry-After). `req` has method, callId, fromUser, toUser, fromUri,
//                                  toUri and header(name). Keep it synchronous and cheap.
//   init(ctx)                      optional, may be async. ctx.properties (lb.properties as written),
//                                  ctx.config (the typed configuration), ctx.registry, ctx.log (pino).
//                                  Throwing here stops start-up with your message.
//   pickForAssignedSipRequest(req, assigned, version)
//                                  optional. An in-dialog request whose node is known from the
//                                  Record-Route; default: `assigned` unless it is bad, else
//                                  pickForSipRequest(req).
//   assignToNode(req, node)        optional. A request that carried a node hint (remember the affinity).
//   pickForHttpRequest(req)        optional. A node.js IncomingMessage without a session; return
//                                  undefined to let the HTTP balancer choose (the default).
//   activeCalls()                  optional. A number for /lbstat NumberOfActiveCalls.
//   stop()                         optional, may be async. Called at shutdown.
//
// A node has id, ip, hostname, ports ({udp, tcp, tls, ws, wss}), httpPort, version, state ('active',
// 'graceful': no new calls, 'bad'), and properties (the extra keys of its heartbeat, e.g. weight).
// Exceptions thrown by a per-message method are caught, logged and counted as "no node".

export default class PrefixAlgorithm {
  name = 'prefix-example';
  /** country prefix → node ip */
  prefixes = [];
  active = [];
  next = 0;

  init(ctx) {
    const raw = ctx.properties.prefixNodeMap ?? '';
    this.prefixes = raw
      .split(',')
      .map((pair) => pair.trim())
      .filter((pair) => pair !== '')
      .map((pair) => {
        const [prefix, ip] = pair.split(':');
        if (!prefix || !ip) throw new Error(`prefixNodeMap: "${pair}" is not prefix:ip`);
        return { prefix, ip };
      });
    ctx.log.info(`prefix-example: ${this.prefixes.length} prefixes`);
  }

  nodesChanged(live) {
    // Only nodes that take new calls; sorted so every balancer instance uses the same order.
    this.active = live.filter((n) => n.state === 'active').sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  pickForSipRequest(req) {
    const caller = req.fromUser;
    for (const { prefix, ip } of this.prefixes) {
      if (caller.startsWith(prefix)) {
        const node = this.active.find((n) => n.ip === ip);
        if (node) return node;
      }
    }
    if (this.active.length === 0) return undefined;
    this.next = (this.next + 1) % this.active.length;
    return this.active[this.next];
  }
}
