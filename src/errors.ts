// Error classes with stable codes (as undici's UND_ERR_* and ws's WS_ERR_*), and the closed sets of reasons
// for which a message is dropped or refused, shared by stats, logs and tests. A leaf module: imports nothing.

/** Stable codes: logs, tests and callers match on `err.code`, never on the message text. */
export const ErrorCode = {
  /** lb.properties has problems that stop start-up (one line each in `problems`). */
  config: 'SIPLB_ERR_CONFIG',
  /** A part could not start (a port in use, unreadable TLS material, an algorithm that failed to load). */
  startup: 'SIPLB_ERR_STARTUP',
  /** Bytes that are not a SIP message. */
  sipParse: 'SIPLB_ERR_SIP_PARSE',
  /** A JSON heartbeat that does not follow the protocol. */
  heartbeat: 'SIPLB_ERR_HEARTBEAT',
  /** A custom algorithm module that cannot be loaded or lacks a required method. */
  customAlgorithm: 'SIPLB_ERR_CUSTOM_ALGORITHM',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The base of the balancer's own errors: a stable `code` beside the operator-facing message. */
export abstract class BalancerError extends Error {
  abstract readonly code: ErrorCode;
}

/** Problems in lb.properties; start-up stops with one line per problem (file:line: key: what is wrong). */
export class ConfigError extends BalancerError {
  override readonly name = 'ConfigError';
  readonly code = ErrorCode.config;
  constructor(
    readonly problems: readonly string[],
    readonly warnings: readonly string[] = [],
  ) {
    super(problems.join('\n'));
  }
}

/** An error that stops start-up with a message for the operator (no stack trace). */
export class StartupError extends BalancerError {
  override readonly name = 'StartupError';
  readonly code = ErrorCode.startup;
}

export class SipParseError extends BalancerError {
  override readonly name = 'SipParseError';
  readonly code = ErrorCode.sipParse;
}

export class HeartbeatError extends BalancerError {
  override readonly name = 'HeartbeatError';
  readonly code = ErrorCode.heartbeat;
}

export class CustomAlgorithmError extends BalancerError {
  override readonly name = 'CustomAlgorithmError';
  readonly code = ErrorCode.customAlgorithm;
}

/**
 * Why a SIP message was dropped: the keys of /lbstat SipDroppedByReason and the `reason` label of
 * sipbalancer_sip_dropped_total. A closed set: add a reason here (and to the README) before counting it.
 */
export const SipDropReason = {
  /** An unexpected error while handling the message (logged with the error). */
  error: 'error',
  /** Max-Forwards reached zero. */
  tooManyHops: 'too-many-hops',
  /** A heartbeat that could not be read. */
  badHeartbeat: 'bad-heartbeat',
  /** A request from a source the configuration blocks. */
  blocked: 'blocked',
  /** The chosen node has no port for a transport the balancer can use. */
  noTransportToNode: 'no-transport-to-node',
  /** Sending failed, also after the retry. */
  sendFailed: 'send-failed',
  /** No next hop could be determined. */
  noRoute: 'no-route',
  /** The next hop's transport has no listening point here. */
  noTransport: 'no-transport',
  /** The next hop's host name did not resolve. */
  dns: 'dns',
  /** A response whose top Via is not the balancer's. */
  responseNotForUs: 'response-not-for-us',
  /** A response addressed to the balancer itself (no Via left to follow). */
  responseToBalancer: 'response-to-balancer',
  /** A message larger than the limit for its transport. */
  tooLarge: 'too-large',
  /** Stream bytes that could not be framed as a SIP message. */
  malformed: 'malformed',
  /** A message cut short by the peer closing its connection. */
  truncated: 'truncated',
  /** A WebSocket handshake without the `sip` subprotocol. */
  wsSubprotocol: 'ws-subprotocol',
  /** A client's response whose next Via names no registered node nor a node's connection (issue 10). */
  responseNotToNode: 'response-not-to-node',
  /** A destination taken from a header that is no address: port 0, rport=99999, a port above 65535. */
  badAddress: 'bad-address',
  /** Node-side traffic from a source outside nodeAllowedSources, or on a connection the balancer opened to a non-node. */
  nodeSourceRefused: 'node-source-refused',
  /** An inbound stream connection over sipMaxConnections, closed at once. */
  tooManyConnections: 'too-many-connections',
  /** A stream connection closed because a message stayed unfinished longer than sipMessageTimeout. */
  messageTimeout: 'message-timeout',
  /** A client request from a source over floodRequestsPerSecond (or banned for floodBanTime), dropped silently. */
  flood: 'flood',
} as const;
export type SipDropReason = (typeof SipDropReason)[keyof typeof SipDropReason];

/** Why an SMPP PDU was refused (generic_nack or an error status): the keys of /lbstat SmppRejectedByReason. */
export const SmppRejectReason = {
  badCommandLength: 'bad-command-length',
  notBound: 'not-bound',
  alreadyBound: 'already-bound',
  invalidCommandId: 'invalid-command-id',
  invalidCommandIdFromSmsc: 'invalid-command-id-from-smsc',
  badBind: 'bad-bind',
  bindFailed: 'bind-failed',
  /** Turned back while the SMSC side binds for the first time. */
  binding: 'binding',
  /** Turned back while the SMSC side binds again after losing its SMSC. */
  rebinding: 'rebinding',
  /** In flight to an SMSC whose connection was lost: answered ESME_RSYSERR. */
  smscLost: 'smsc-lost',
  /** Mux mode: a later ESME's password differs from the one the SMSCs accepted (bind_resp 0x0E). */
  wrongPassword: 'wrong-password',
  /** Mux mode: a submit from an ESME bound as receiver (ESME_RINVBNDSTS). */
  receiverCannotSend: 'receiver-cannot-send',
  /** Mux mode: an SMSC's deliver_sm/data_sm with no ESME of its system_id able to receive (ESME_RSYSERR). */
  noEsme: 'no-esme',
} as const;
export type SmppRejectReason = (typeof SmppRejectReason)[keyof typeof SmppRejectReason];
