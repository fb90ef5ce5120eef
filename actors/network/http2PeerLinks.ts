/**
 * The sending side of the HTTP/2 transport: one link per peer, each an HTTP/2 session opened on first use, a queue of
 * the messages waiting for it, and one long-lived request stream that carries them as frames (src/wireFrames.ts).
 *
 * Everything queued for a peer in one turn of the event loop is written as one frame: the messages of every group,
 * and the host's signals. A stream costs one request for the whole life of the session instead of one per batch,
 * which is where the time went (request setup, headers, an answer for every batch). Snapshot chunks are bytes and
 * still travel as requests of their own (src/wire.ts), so that they are neither base64-encoded nor copied; a chunk
 * may therefore arrive before or after the messages queued with it (Raft tolerates reordering).
 *
 * While a peer cannot be reached its messages are dropped (Raft retries with its own heartbeats) and the owner hears
 * `unreachable` once; the session is reopened, lazily, after a jittered exponential backoff. A PING every
 * `keepAliveMs` detects a peer that stopped answering (a paused process, a dead link) within `peerTimeoutMs`. A
 * stream the peer refuses (it does not know this node yet, say) or resets is opened again on a later turn, after
 * the same backoff when it was refused. While the stream's buffer is over `maxBufferedBytes` (a slow peer) messages
 * wait in the queue, and beyond `maxQueued` new ones are dropped.
 */
import http2 from 'node:http2';
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2';
import type { NodeId, RaftMessage } from '../../src/core/index.js';
import { encodeSnapshotChunkRequest } from '../../src/wire.js';
import { encodeFrames, FRAMES_CONTENT_TYPE, STREAM_HEADERS, type GroupMessages } from '../../src/wireFrames.js';
import { newLink, type PeerLink, type PeerLinksConfig } from './http2PeerLink.js';
import { OCTET_STREAM_HEADERS, SNAPSHOT_CHUNK_PATH, STREAM_PATH } from './http2Paths.js';

/** An HTTP/2 stream window large enough that a burst of appends never waits for a WINDOW_UPDATE on loopback. */
const STREAM_WINDOW_BYTES = 16 * 2 ** 20;

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
    this.links.set(peer, newLink(peer, authority, this.closed ? 'backoff' : 'idle'));
  }

  /** Every peer: id -> `host:port`. */
  addresses(): Record<NodeId, string> {
    return Object.fromEntries([...this.links].map(([peer, link]) => [peer, link.authority.slice(link.authority.indexOf('://') + 3)]));
  }

  /** Queue `message` of `group` for `to`, or drop it (and say the peer is unreachable) when its link is down. */
  send(to: NodeId, group: string, message: RaftMessage): void {
    const link = this.writable(to);
    if (link === null) return;
    const messages = link.queue.get(group);
    if (messages === undefined) link.queue.set(group, [message]);
    else messages.push(message);
    link.queued++;
  }

  /** Queue a host-level signal for `to`; it travels in the next frame, with the messages. */
  signal(to: NodeId, signal: unknown): void {
    this.writable(to)?.signals.push(signal);
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
      this.clearQueue(link);
      link.state = 'backoff'; // never reconnect
      link.session?.destroy();
      link.session = null;
      link.stream = null;
    }
  }

  /** The link to `to` with room for one more message (a flush scheduled), or null: the message is dropped. */
  private writable(to: NodeId): PeerLink | null {
    const stats = this.config.stats;
    const link = this.links.get(to);
    if (link === undefined || this.closed) {
      stats.messagesDropped++;
      this.config.unreachable(to);
      return null;
    }
    if (link.state === 'backoff') {
      stats.messagesDropped++;
      this.reportUnreachable(link);
      return null;
    }
    if (link.queued + link.signals.length >= this.config.maxQueued) {
      stats.messagesDropped++;
      return null;
    }
    if (link.state === 'idle') this.connect(link);
    this.scheduleFlush();
    return link;
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
   * Write what is queued for `link` as one frame on its stream, if the session is up and the stream is not backed
   * up; snapshot chunks go as requests of their own, while the window of chunk requests has room.
   */
  private flush(link: PeerLink): void {
    const session = link.session;
    if (link.state !== 'connected' || session === null || (link.queued === 0 && link.signals.length === 0)) return;
    const stream = link.stream ?? this.openFrameStream(link, session);
    if (stream === null) return;
    if (stream.writableLength > this.config.maxBufferedBytes) return; // 'drain' flushes again
    const batches: GroupMessages[] = [];
    const kept = new Map<string, RaftMessage[]>();
    let sent = 0;
    let waiting = 0;
    for (const [group, messages] of link.queue) {
      // Replication is the hot path and rarely carries a snapshot chunk: then the messages go as they are, uncopied.
      const framed = messages.some(isChunk) ? messages.filter((message) => !isChunk(message)) : messages;
      if (framed !== messages) {
        const chunks = messages.filter(isChunk).filter((chunk) => !this.postChunk(link, session, group, chunk));
        if (chunks.length > 0) kept.set(group, chunks);
        waiting += chunks.length;
      }
      if (framed.length > 0) batches.push({ group, messages: framed });
      sent += framed.length;
    }
    const signals = link.signals;
    link.queue = kept;
    link.queued = waiting;
    link.signals = [];
    if (batches.length === 0 && signals.length === 0) return;
    const stats = this.config.stats;
    const frames = encodeFrames({ batches, signals }, this.config.maxFrameBytes);
    stats.framesSent += frames.length;
    stats.messagesSent += sent;
    stats.signalsSent += signals.length;
    for (const frame of frames) stream.write(frame);
  }

  /** Open the stream frames travel on, unless the peer refused the last one too recently. */
  private openFrameStream(link: PeerLink, session: ClientHttp2Session): ClientHttp2Stream | null {
    if (Date.now() < link.streamRetryAt) {
      // Refused: what waits is dropped (Raft resends), so that a peer that does not know us yet costs no memory.
      this.config.stats.messagesDropped += link.queued;
      this.clearQueue(link);
      return null;
    }
    const { stats, clusterId, id } = this.config;
    let stream: ClientHttp2Stream;
    try {
      stream = session.request(
        { ':method': 'POST', ':path': STREAM_PATH, 'content-type': FRAMES_CONTENT_TYPE, [STREAM_HEADERS.cluster]: clusterId, [STREAM_HEADERS.from]: id, [STREAM_HEADERS.to]: link.id },
        { endStream: false },
      );
    } catch {
      return null; // the session is closing; its close handler resets the link
    }
    stats.requestsSent++;
    link.stream = stream;
    let status = 0;
    const answer: Buffer[] = [];
    /** The peer will take no more on this stream: forget it, so that the next flush opens another. */
    const done = (): void => {
      if (link.stream !== stream) return;
      link.stream = null;
      if (link.queued > 0 || link.signals.length > 0) this.scheduleFlush();
    };
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
      if (status >= 200 && status < 300) link.streamRefusals = 0;
      else done(); // refused: nothing more is written to it (its body, the reason, is still read for the log)
    });
    stream.on('data', (data: Buffer) => answer.length < 4 && answer.push(data));
    stream.on('drain', () => this.scheduleFlush());
    stream.on('error', () => undefined);
    // The peer ended its side (refused, or closing): our side is closed too, or the stream would linger half-open.
    stream.on('end', () => stream.close());
    stream.on('close', () => {
      done();
      if (status !== 0 && (status < 200 || status >= 300)) {
        stats.requestsRefusedByPeers++;
        link.streamRefusals++;
        link.streamRetryAt = Date.now() + this.backoffMs(link.streamRefusals);
        this.logRefusal(link, `${link.id} refused our messages with ${status}`, answer);
      }
    });
    return stream;
  }

  /** One snapshot chunk as a request of its own; false when the window of chunk requests is full (it waits). */
  private postChunk(link: PeerLink, session: ClientHttp2Session, group: string, chunk: RaftMessage): boolean {
    if (link.inflight >= this.config.maxInflight || chunk.type !== 'InstallSnapshot') return false;
    let stream: ClientHttp2Stream;
    try {
      stream = session.request({ ':method': 'POST', ':path': SNAPSHOT_CHUNK_PATH, ...OCTET_STREAM_HEADERS });
    } catch {
      return true; // the session is closing: the chunk is lost with it, and Raft resends
    }
    const { stats, clusterId, id } = this.config;
    link.inflight++;
    stats.requestsSent++;
    stats.messagesSent++;
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
        this.logRefusal(link, `${link.id} refused a snapshot chunk with ${status}`, answer);
      }
      if (link.queued > 0) this.scheduleFlush();
    });
    // Two writes, so that the chunk's bytes are not copied into one body.
    const [prefix, data] = encodeSnapshotChunkRequest({ clusterId, from: id, to: link.id, ...(group === '' ? {} : { group }), message: chunk });
    stream.write(prefix);
    stream.end(data);
    return true;
  }

  private connect(link: PeerLink): void {
    link.state = 'connecting';
    const { tls, peerTimeoutMs, log } = this.config;
    const settings = { initialWindowSize: STREAM_WINDOW_BYTES };
    const session = http2.connect(
      link.authority,
      tls === undefined ? { settings } : { settings, cert: tls.cert, key: tls.key, ca: tls.ca, servername: undefined },
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

  /** The session to `link` ended: drop what was waiting, tell the owner, and back off before the next connect. */
  private lost(link: PeerLink): void {
    this.clearTimers(link);
    link.session = null;
    link.stream = null;
    link.inflight = 0;
    this.config.stats.messagesDropped += link.queued;
    this.clearQueue(link);
    if (this.closed) return;
    link.failures++;
    this.reportUnreachable(link);
    link.state = 'backoff';
    link.timer = setTimeout(() => {
      link.timer = null;
      // Reconnect lazily, on the next message: Raft sends heartbeats often enough, and idle links cost nothing.
      link.state = 'idle';
    }, this.backoffMs(link.failures));
    link.timer.unref();
  }

  /** Log a peer's refusal with the start of its answer, unless it is the same as the last one from that peer. */
  private logRefusal(link: PeerLink, what: string, answer: readonly Buffer[]): void {
    const refusal = `${what}: ${Buffer.concat(answer).toString('utf8').slice(0, 300)}`;
    if (refusal !== link.lastRefusal) this.config.log?.(refusal);
    link.lastRefusal = refusal;
  }

  /** The jittered exponential backoff after `failures` failures in a row. */
  private backoffMs(failures: number): number {
    const { initialMs, maxMs } = this.config.backoff;
    return Math.min(maxMs, initialMs * 2 ** Math.min(failures - 1, 30)) * (0.5 + 0.5 * this.config.random());
  }

  private clearQueue(link: PeerLink): void {
    link.queue = new Map();
    link.queued = 0;
    link.signals = [];
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
