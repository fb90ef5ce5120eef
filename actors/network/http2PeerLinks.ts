/**
 * The sending side of `Http2Network`: one link per peer, each an HTTP/2 session opened on first use, a queue of the
 * messages waiting for it, and a window of requests in flight.
 *
 * Every message for a peer produced in one turn of the event loop travels as one request (`POST` to the messages
 * path, a JSON `WireBatch`), except snapshot chunks: each `InstallSnapshot` is a request of its own, as raw bytes (see
 * `src/wire.ts`). Requests are pipelined, up to `maxInflight` per peer, without waiting for earlier answers.
 * While a peer cannot be reached its messages are dropped (Raft retries with its own heartbeats) and the node hears
 * `PeerUnreachable` once; the session is reopened, lazily, after a jittered exponential backoff. A PING every
 * `keepAliveMs` detects a peer that stopped answering (a paused process, a dead link) within `peerTimeoutMs`.
 */
import http2 from 'node:http2';
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';
import type { NodeId, RaftMessage } from '../../src/core/index.js';
import { encodeBatch, encodeSnapshotChunkRequest } from '../../src/wire.js';
import type { Http2NetworkStats, Http2TlsOptions } from './Http2Network.js';
import { JSON_HEADERS, MESSAGES_PATH, OCTET_STREAM_HEADERS, SNAPSHOT_CHUNK_PATH } from './http2Paths.js';

/** What the links need from the network that owns them. */
export interface PeerLinksConfig {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly tls: Http2TlsOptions | undefined;
  readonly maxInflight: number;
  readonly maxQueued: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly keepAliveMs: number;
  readonly peerTimeoutMs: number;
  readonly random: () => number;
  /** Counters shared with the network (the sending ones are written here). */
  readonly stats: Http2NetworkStats;
  readonly log: ((line: string) => void) | undefined;
  /** Tell the node that `peer` cannot be reached. */
  readonly unreachable: (peer: NodeId) => void;
}

type LinkState = 'idle' | 'connecting' | 'connected' | 'backoff';

/** The sending side for one peer. */
interface PeerLink {
  readonly id: NodeId;
  readonly authority: string;
  state: LinkState;
  session: ClientHttp2Session | null;
  queue: RaftMessage[];
  inflight: number;
  /** Consecutive failed connects, for the backoff. */
  failures: number;
  /** Whether the node has been told the peer is unreachable since it was last reachable. */
  reported: boolean;
  timer: NodeJS.Timeout | null;
  keepAlive: NodeJS.Timeout | null;
  pingSentAt: number | null;
  lastRefusal: string | null;
}

export class PeerLinks {
  private readonly links = new Map<NodeId, PeerLink>();
  private flushScheduled = false;
  /** Set by `close`: no link connects again. */
  private closed = false;

  constructor(private readonly config: PeerLinksConfig) {}

  /** Whether `peer` is a configured peer. */
  has(peer: NodeId): boolean {
    return this.links.has(peer);
  }

  /** Add a link to `peer` at `address` (`host:port`), or move it there; a changed address drops the old session. */
  set(peer: NodeId, address: string): void {
    const authority = `${this.config.tls === undefined ? 'http' : 'https'}://${address}`;
    const previous = this.links.get(peer);
    if (previous?.authority === authority) return;
    if (previous !== undefined) {
      this.clearTimers(previous);
      previous.state = 'backoff'; // the old link never reconnects
      previous.session?.destroy();
      previous.session = null;
    }
    this.links.set(peer, {
      id: peer,
      authority,
      state: this.closed ? 'backoff' : 'idle',
      session: null,
      queue: [],
      inflight: 0,
      failures: 0,
      reported: false,
      timer: null,
      keepAlive: null,
      pingSentAt: null,
      lastRefusal: null,
    });
  }

  /** Every peer: id -> `host:port`. */
  addresses(): Record<NodeId, string> {
    return Object.fromEntries([...this.links].map(([peer, link]) => [peer, link.authority.slice(link.authority.indexOf('://') + 3)]));
  }

  /** Queue `message` for `to`, or drop it (and say the peer is unreachable) when its link is down. */
  send(to: NodeId, message: RaftMessage): void {
    const stats = this.config.stats;
    const link = this.links.get(to);
    if (link === undefined || this.closed) {
      stats.messagesDropped++;
      this.config.unreachable(to);
      return;
    }
    if (link.state === 'backoff') {
      stats.messagesDropped++;
      this.reportUnreachable(link);
      return;
    }
    if (link.queue.length >= this.config.maxQueued) {
      stats.messagesDropped++;
      return;
    }
    link.queue.push(message);
    if (link.state === 'idle') this.connect(link);
    this.scheduleFlush();
  }

  /** A request stream to `peer` on its session; null (and a connect started) when it has none open right now. */
  openStream(peer: NodeId, path: string, headers: Record<string, string>): ClientHttp2Stream | null {
    const link = this.links.get(peer);
    if (link?.state !== 'connected' || link.session === null) {
      if (link !== undefined && link.state === 'idle') this.connect(link);
      return null;
    }
    return link.session.request({ ':method': 'POST', ':path': path, ...headers });
  }

  /** Drop every session and queue; no link reconnects. Requests in flight are abandoned. */
  close(): void {
    this.closed = true;
    for (const link of this.links.values()) {
      this.clearTimers(link);
      link.queue = [];
      link.state = 'backoff'; // never reconnect
      link.session?.destroy();
      link.session = null;
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      for (const link of this.links.values()) this.flush(link);
    });
  }

  /**
   * Send what is queued for `link`, if the session is up, while the window has room: every message but snapshot chunks
   * as one JSON batch, then each snapshot chunk as a request of its own. What does not fit waits for a free slot.
   * A chunk thus travels apart from the messages queued around it and may arrive before or after them: Raft tolerates
   * reordering (each message carries its term, each chunk its number and snapshot, and the follower says which chunk
   * it takes next).
   */
  private flush(link: PeerLink): void {
    const session = link.session;
    if (link.state !== 'connected' || session === null || link.queue.length === 0 || link.inflight >= this.config.maxInflight) return;
    const queued = link.queue;
    link.queue = [];
    // Replication is the hot path and rarely carries a snapshot chunk: then the queue goes as it is, uncopied.
    const requests = queued.some(isChunk) ? chunksApart(queued) : [queued];
    for (const [at, messages] of requests.entries()) {
      if (link.inflight >= this.config.maxInflight) {
        link.queue = requests.slice(at).flat();
        return;
      }
      if (!this.post(link, session, messages)) {
        // The session is closing; its close handler resets the link.
        this.config.stats.messagesDropped += requests.slice(at).flat().length;
        return;
      }
    }
  }

  /**
   * One request to `link`'s peer: `messages` as a JSON batch, or one InstallSnapshot as a snapshot chunk request.
   * False when the session no longer opens streams.
   */
  private post(link: PeerLink, session: ClientHttp2Session, messages: readonly RaftMessage[]): boolean {
    const { stats, log } = this.config;
    const envelope = { clusterId: this.config.clusterId, from: this.config.id, to: link.id };
    const [first] = messages;
    const chunk = messages.length === 1 && first?.type === 'InstallSnapshot' ? first : null;
    let stream: ClientHttp2Stream;
    try {
      const [path, headers] = chunk === null ? [MESSAGES_PATH, JSON_HEADERS] : [SNAPSHOT_CHUNK_PATH, OCTET_STREAM_HEADERS];
      stream = session.request({ ':method': 'POST', ':path': path, ...headers });
    } catch {
      return false;
    }
    link.inflight++;
    stats.requestsSent++;
    stats.messagesSent += messages.length;
    let status = 0;
    const answer: Buffer[] = [];
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (data: Buffer) => answer.length < 4 && answer.push(data));
    stream.on('error', () => undefined);
    stream.on('close', () => {
      // A stream of a session since replaced must not free a slot of the new one.
      if (link.session === session) link.inflight--;
      if (status !== 0 && (status < 200 || status >= 300)) {
        stats.requestsRefusedByPeers++;
        const refusal = `${link.id} refused our messages with ${status}: ${Buffer.concat(answer).toString('utf8').slice(0, 300)}`;
        if (refusal !== link.lastRefusal) log?.(refusal);
        link.lastRefusal = refusal;
      }
      if (link.queue.length > 0) this.scheduleFlush();
    });
    if (chunk === null) stream.end(encodeBatch({ ...envelope, messages }));
    else {
      // Two writes, so that the chunk's bytes are not copied into one body.
      const [prefix, data] = encodeSnapshotChunkRequest({ ...envelope, message: chunk });
      stream.write(prefix);
      stream.end(data);
    }
    return true;
  }

  private connect(link: PeerLink): void {
    link.state = 'connecting';
    const { tls, peerTimeoutMs, log } = this.config;
    const session = http2.connect(
      link.authority,
      tls === undefined ? {} : { cert: tls.cert, key: tls.key, ca: tls.ca, servername: undefined },
    );
    link.session = session;
    this.config.stats.connects++;
    link.timer = setTimeout(() => session.destroy(new Error(`no answer from ${link.id} within ${peerTimeoutMs} ms`)), peerTimeoutMs);
    link.timer.unref();
    session.on('error', (error) => {
      if (link.failures === 0 && link.state === 'connecting') log?.(`cannot reach ${link.id}: ${error.message}`);
    });
    session.on('goaway', () => session.close());
    session.once('connect', () => {
      if (link.session !== session) return;
      this.clearTimers(link);
      link.state = 'connected';
      link.failures = 0;
      link.reported = false;
      link.pingSentAt = null;
      link.keepAlive = setInterval(() => this.keepAlive(link, session), this.config.keepAliveMs);
      link.keepAlive.unref();
      this.flush(link);
    });
    session.once('close', () => {
      if (link.session !== session) return;
      this.lost(link);
    });
  }

  /** PING the peer; a ping still unanswered after `peerTimeoutMs` means the peer is gone or paused. */
  private keepAlive(link: PeerLink, session: ClientHttp2Session): void {
    const timeoutMs = this.config.peerTimeoutMs;
    if (link.pingSentAt !== null) {
      if (Date.now() - link.pingSentAt > timeoutMs) session.destroy(new Error(`${link.id} did not answer a PING within ${timeoutMs} ms`));
      return;
    }
    link.pingSentAt = Date.now();
    try {
      session.ping((error) => {
        if (error === null && link.session === session) link.pingSentAt = null;
      });
    } catch {
      session.destroy();
    }
  }

  /** The session to `link` ended: drop what was waiting, tell the node, and back off before the next connect. */
  private lost(link: PeerLink): void {
    this.clearTimers(link);
    link.session = null;
    link.inflight = 0;
    this.config.stats.messagesDropped += link.queue.length;
    link.queue = [];
    if (this.closed) return;
    link.failures++;
    this.reportUnreachable(link);
    const { initialMs, maxMs } = this.config.backoff;
    const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(link.failures - 1, 30));
    link.state = 'backoff';
    link.timer = setTimeout(() => {
      link.timer = null;
      // Reconnect lazily, on the next message: Raft sends heartbeats often enough, and idle links cost nothing.
      link.state = 'idle';
    }, ceiling * (0.5 + 0.5 * this.config.random()));
    link.timer.unref();
  }

  private reportUnreachable(link: PeerLink): void {
    if (link.reported) return;
    link.reported = true;
    this.config.unreachable(link.id);
  }

  private clearTimers(link: PeerLink): void {
    if (link.timer !== null) clearTimeout(link.timer);
    if (link.keepAlive !== null) clearInterval(link.keepAlive);
    link.timer = null;
    link.keepAlive = null;
  }
}

function isChunk(message: RaftMessage): boolean {
  return message.type === 'InstallSnapshot';
}

/** The requests for `messages`: every message but snapshot chunks as one batch, then each chunk on its own. */
function chunksApart(messages: readonly RaftMessage[]): RaftMessage[][] {
  const batch = messages.filter((message) => !isChunk(message));
  const chunks = messages.filter(isChunk).map((message) => [message]);
  return batch.length > 0 ? [batch, ...chunks] : chunks;
}
