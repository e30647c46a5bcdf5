// JsSIP (the browser SIP library) as a WS/WSS user agent inside the test process: the `ws` package stands in
// for the browser's WebSocket (trusting the test CA), and a minimal fake RTCPeerConnection stands in for
// WebRTC so that calls carry SDP without media. Globals are set only in the worker that imports this file.

import * as JsSIP from 'jssip';
import { WebSocket } from 'ws';
import type { RTCSession } from 'jssip/lib/RTCSession.js';
import type { UA } from 'jssip/lib/UA.js';

const FAKE_SDP = 'v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\n';

/** Just enough of RTCPeerConnection for JsSIP's offer/answer: SDP in, SDP out, no media, ICE already complete. */
class FakePeerConnection extends EventTarget {
  iceGatheringState = 'complete';
  iceConnectionState = 'new';
  signalingState = 'stable';
  connectionState = 'new';
  localDescription: { type: string; sdp: string } | null = null;
  remoteDescription: { type: string; sdp: string } | null = null;
  async createOffer(): Promise<{ type: string; sdp: string }> {
    return { type: 'offer', sdp: FAKE_SDP };
  }
  async createAnswer(): Promise<{ type: string; sdp: string }> {
    return { type: 'answer', sdp: FAKE_SDP };
  }
  async setLocalDescription(d: { type: string; sdp: string }): Promise<void> {
    this.localDescription = d;
  }
  async setRemoteDescription(d: { type: string; sdp: string }): Promise<void> {
    this.remoteDescription = d;
  }
  getSenders(): unknown[] {
    return [];
  }
  getReceivers(): unknown[] {
    return [];
  }
  addTrack(): void {}
  close(): void {
    this.signalingState = 'closed';
  }
}

class FakeSessionDescription {
  type: string;
  sdp: string;
  constructor(d: { type: string; sdp: string }) {
    this.type = d.type;
    this.sdp = d.sdp;
  }
}

let installed = false;

/** Installs the globals JsSIP needs (once per worker). `ca` is the PEM the WSS server's certificate chains to. */
export function installJsSipGlobals(ca: string | undefined): void {
  if (installed) return;
  installed = true;
  const g = globalThis as Record<string, unknown>;
  if (g.window === undefined) g.window = globalThis;
  g.RTCPeerConnection = FakePeerConnection;
  g.RTCSessionDescription = FakeSessionDescription;
  // JsSIP calls `new WebSocket(url, 'sip')`: hand it the ws package, trusting the test CA for wss://.
  g.WebSocket = class TestWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, ca ? { ca } : {});
    }
  };
  JsSIP.debug.disable();
}

export interface JsSipAgent {
  readonly ua: UA;
  /** Incoming sessions (calls from nodes), in order. */
  readonly incoming: RTCSession[];
  stop(): Promise<void>;
}

/** Starts a JsSIP UA on a WebSocket URL (ws:// or wss://) and waits until its transport is connected. */
export async function startJsSip(url: string, user = 'alice', opts: { register?: boolean; timeoutMs?: number } = {}): Promise<JsSipAgent> {
  const socket = new JsSIP.WebSocketInterface(url);
  const ua = new JsSIP.UA({
    sockets: [socket],
    uri: `sip:${user}@example.test`,
    register: opts.register ?? false,
    session_timers: false,
    connection_recovery_min_interval: 60,
    connection_recovery_max_interval: 60,
  });
  const incoming: RTCSession[] = [];
  ua.on('newRTCSession', (e: { originator: string; session: RTCSession }) => {
    if (e.originator === 'remote') incoming.push(e.session);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`JsSIP did not connect to ${url}`)), opts.timeoutMs ?? 5000);
    ua.once('connected', () => {
      clearTimeout(timer);
      resolve();
    });
    ua.start();
  });
  return {
    ua,
    incoming,
    async stop() {
      ua.stop();
      await new Promise((r) => setTimeout(r, 50));
    },
  };
}

/** Waits for a JsSIP event once, or rejects after timeoutMs. */
export function once<T = unknown>(emitter: { once(ev: string, cb: (e: T) => void): unknown }, event: string, timeoutMs = 5000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`JsSIP event ${event} not seen in ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, (e: T) => {
      clearTimeout(timer);
      resolve(e);
    });
  });
}

/** Places a call without media (the fake peer connection gives the SDP). */
export function call(agent: JsSipAgent, target: string): RTCSession {
  return agent.ua.call(target, { mediaConstraints: { audio: false, video: false }, pcConfig: {} });
}
