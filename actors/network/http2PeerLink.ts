/**
 * What the HTTP/2 transport's sending side knows of one peer (a `PeerLink`: its session, its frame stream, what waits
 * for it, its backoff and keep-alive state), and what it needs from the network that owns the links.
 */
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';
import type { NodeId, RaftMessage } from '../../src/core/index.js';
import type { Http2NetworkStats, Http2TlsOptions } from './Http2Network.js';

/** What the links need from the network that owns them. */
export interface PeerLinksConfig {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly tls: Http2TlsOptions | undefined;
  /** Snapshot chunk requests to one peer awaiting an answer. */
  readonly maxInflight: number;
  readonly maxQueued: number;
  /** Bytes the stream may hold unsent before messages wait in the queue. */
  readonly maxBufferedBytes: number;
  /** Longest frame to write (the peers' limit on what they read, `maxBodyBytes`): a turn's messages beyond it go as more frames. */
  readonly maxFrameBytes: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly keepAliveMs: number;
  readonly peerTimeoutMs: number;
  readonly random: () => number;
  /** Counters shared with the network (the sending ones are written here). */
  readonly stats: Http2NetworkStats;
  readonly log: ((line: string) => void) | undefined;
  /** Tell the owner that `peer` cannot be reached. */
  readonly unreachable: (peer: NodeId) => void;
}

export type LinkState = 'idle' | 'connecting' | 'connected' | 'backoff';

/** The sending side for one peer. */
export interface PeerLink {
  readonly id: NodeId;
  readonly authority: string;
  state: LinkState;
  session: ClientHttp2Session | null;
  /** The stream frames are written on; null until opened (again). */
  stream: ClientHttp2Stream | null;
  /** Refusals of our stream in a row, for its backoff; no stream is opened before `streamRetryAt` (ms). */
  streamRefusals: number;
  streamRetryAt: number;
  /** Messages waiting, per group, in the order they were sent; `queued` counts them. */
  queue: Map<string, RaftMessage[]>;
  queued: number;
  signals: unknown[];
  /** Snapshot chunk requests awaiting an answer. */
  inflight: number;
  /** Consecutive failed connects, for the backoff. */
  failures: number;
  /** Whether the owner has been told the peer is unreachable since it was last reachable. */
  reported: boolean;
  timer: NodeJS.Timeout | null;
  keepAlive: NodeJS.Timeout | null;
  pingSentAt: number | null;
  lastRefusal: string | null;
}

/** A link to `peer` at `authority`, with nothing sent or waiting yet. */
export function newLink(peer: NodeId, authority: string, state: LinkState): PeerLink {
  return {
    id: peer,
    authority,
    state,
    session: null,
    stream: null,
    streamRefusals: 0,
    streamRetryAt: 0,
    queue: new Map(),
    queued: 0,
    signals: [],
    inflight: 0,
    failures: 0,
    reported: false,
    timer: null,
    keepAlive: null,
    pingSentAt: null,
    lastRefusal: null,
  };
}
