/**
 * One process's HTTP/2 endpoint for Raft traffic: the peer links that send (http2PeerLinks.ts), the server that
 * receives (http2Server.ts), and the checks between the bytes and the node. Both network actors are built on it: a
 * single-group `Http2Network` (every message in group `""`) and a host's network shared by many groups.
 *
 * Receiving: a peer's messages arrive as frames on one long-lived stream (`POST /xraft/v1/stream`,
 * src/wireFrames.ts), as a single batch (`POST /xraft/v1/messages`, for tools), or as a snapshot chunk request. A
 * stream is checked once when it opens (content type, cluster id, addressee, and that the sender is admitted: a member,
 * named by its client certificate with `peerIdentity: 'common-name'`), and then every frame: its length, its JSON,
 * every message's schema, its signals, and that the owner takes its groups. A refused request or stream gets a 4xx
 * and a JSON body `{ error: { code, message } }`; a refused frame resets its stream (the sender opens another).
 * Either way nothing is delivered and the refusal is logged with its sender, rate-limited (refusalLog.ts).
 */
import type { ServerHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import http2 from 'node:http2';
import type { z } from 'zod';
import type { NodeId, RaftMessage } from '../../src/core/index.js';
import { decodeBatch, decodeSnapshotChunkRequest, MAX_ID_LENGTH, type DecodeResult, type WireBatch } from '../../src/wire.js';
import { decodeFrame, DEFAULT_MAX_FRAME_BYTES, FRAMES_CONTENT_TYPE, FrameReader, STREAM_HEADERS } from '../../src/wireFrames.js';
import type { Http2NetworkOptions, Http2NetworkStats } from './Http2Network.js';
import { PeerLinks } from './http2PeerLinks.js';
import { JSON_HEADERS, MESSAGES_PATH, OCTET_STREAM_HEADERS, SNAPSHOT_CHUNK_PATH, STREAM_PATH } from './http2Paths.js';
import { peerCommonName, refuse, RouteServer, type AnsweredRefusal, type RequestRefusal, type RouteRequest, type RouteResponse } from './http2Server.js';
import { RefusalLog } from './refusalLog.js';

/** Who a request or stream comes from, as the admission check sees it. */
export type SenderCredentials = Pick<RouteRequest, 'headers' | 'peerCommonName'>;

/** What the endpoint asks of the network actor that owns it. */
export interface Http2EndpointOwner<Signal> {
  /** Whether the owner takes messages now (a stopped node answers 503). */
  running(): boolean;
  /** Whether `group` is one the owner hosts: a frame or batch naming another is refused whole. */
  hostsGroup(group: string): boolean;
  /** Who may send: a refusal turns the request or stream away. */
  admit(from: NodeId, credentials: SenderCredentials): RequestRefusal | null;
  deliver(from: NodeId, group: string, message: RaftMessage): void;
  /** Host-level signals; null when the owner takes none (a frame carrying one is refused). */
  readonly signalSchema: z.ZodType<Signal> | null;
  signalled(from: NodeId, signal: Signal): void;
  unreachable(peer: NodeId): void;
}

const { NGHTTP2_PROTOCOL_ERROR } = http2.constants;

export class Http2Endpoint<Signal = never> {
  readonly stats: Http2NetworkStats = {
    requestsSent: 0,
    framesSent: 0,
    messagesSent: 0,
    signalsSent: 0,
    messagesDropped: 0,
    requestsRefusedByPeers: 0,
    messagesReceived: 0,
    chunksReceived: 0,
    requestsRefused: 0,
    connects: 0,
  };
  readonly links: PeerLinks;
  readonly server: RouteServer;
  /** Null without `options.log`: refusals are then only counted. */
  private readonly refusals: RefusalLog | null;
  /** The `from` of refused requests that decoded that far, to name their sender in the log. */
  private readonly claimedSenders = new WeakMap<RouteRequest, NodeId>();
  private readonly maxFrameBytes: number;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly options: Http2NetworkOptions,
    private readonly owner: Http2EndpointOwner<Signal>,
  ) {
    this.links = new PeerLinks({
      id: options.id,
      clusterId: options.clusterId,
      tls: options.tls,
      maxInflight: options.maxInflightRequests ?? 64,
      maxQueued: options.maxQueuedMessages ?? 65_536,
      maxBufferedBytes: options.maxBufferedBytes ?? 8 * 2 ** 20,
      maxFrameBytes: options.maxBodyBytes ?? DEFAULT_MAX_FRAME_BYTES,
      backoff: { initialMs: options.backoff?.initialMs ?? 50, maxMs: options.backoff?.maxMs ?? 2000 },
      keepAliveMs: options.keepAliveMs ?? 1000,
      peerTimeoutMs: options.peerTimeoutMs ?? 3000,
      random: options.random ?? Math.random,
      stats: this.stats,
      log: options.log,
      unreachable: (peer) => owner.unreachable(peer),
    });
    this.maxFrameBytes = options.maxBodyBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.server = new RouteServer({
      tls: options.tls,
      maxBodyBytes: this.maxFrameBytes,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      log: options.log,
      refused: (refusal) => this.refused(refusal),
    });
    this.refusals = options.log === undefined ? null : new RefusalLog({ log: options.log });
    this.server.rawRoute('POST', STREAM_PATH, (stream, headers) => this.receiveStream(stream, headers));
    this.server.route('POST', MESSAGES_PATH, (request) =>
      this.receiveRequest(request, JSON_HEADERS['content-type'], (body) => decodeBatch(body.toString('utf8')), claimedInBatch),
    );
    this.server.route('POST', SNAPSHOT_CHUNK_PATH, (request) => {
      const response = this.receiveRequest(request, OCTET_STREAM_HEADERS['content-type'], decodeSnapshotChunkRequest, claimedInChunk);
      if (response.status === 204) this.stats.chunksReceived++;
      return response;
    });
  }

  /** Start accepting peers where the options say (default 127.0.0.1, any free port). */
  listen(): Promise<number> {
    return this.server.listen(this.options.listen?.host ?? '127.0.0.1', this.options.listen?.port ?? 0);
  }

  /** Add a peer, or move a known one to a new address; this node's own id is ignored. */
  setPeer(peer: NodeId, address: string): void {
    if (peer !== this.options.id) this.links.set(peer, address);
  }

  /** Where the members are, as the configuration says: add the new ones, follow changed addresses. */
  setPeers(addresses: Readonly<Record<NodeId, string>>): void {
    const known = this.links.addresses();
    for (const [peer, address] of Object.entries(addresses)) if (known[peer] !== address) this.setPeer(peer, address);
  }

  /** The default admission: a configured peer, named by its client certificate with `peerIdentity: 'common-name'`. */
  admitPeer(from: NodeId, credentials: SenderCredentials): RequestRefusal | null {
    if (!this.links.has(from)) return { status: 403, code: 'UNKNOWN_SENDER', message: `${from} is not a member of this cluster` };
    if (this.options.tls?.peerIdentity === 'common-name' && credentials.peerCommonName !== from) {
      return { status: 403, code: 'IDENTITY_MISMATCH', message: `the client certificate does not name ${from}` };
    }
    return null;
  }

  /** Close every session and stop listening. Idempotent. */
  close(): Promise<void> {
    if (this.closing === null) {
      this.links.close();
      this.refusals?.close();
      this.closing = this.server.close();
    }
    return this.closing;
  }

  /** A peer's stream of frames: checked once as it opens, then frame by frame as they arrive. */
  private receiveStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const credentials: SenderCredentials = { headers, peerCommonName: peerCommonName(stream) };
    const header = (name: string): string | null => {
      const value = headers[name];
      return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH ? value : null;
    };
    const from = header(STREAM_HEADERS.from);
    const refusal = this.envelopeRefusal(headers['content-type'], FRAMES_CONTENT_TYPE, header(STREAM_HEADERS.cluster), from, header(STREAM_HEADERS.to), credentials);
    if (refusal !== null) {
      this.server.answer(stream, refuse(refusal), null, from);
      return;
    }
    const sender = from!;
    stream.respond({ ':status': 200 });
    const reader = new FrameReader(this.maxFrameBytes);
    stream.on('data', (chunk: Buffer) => {
      const bodies = reader.push(chunk);
      if (!Array.isArray(bodies)) return this.refuseFrame(stream, sender, { status: 400, ...bodies });
      for (const body of bodies) {
        const decoded = decodeFrame(body, this.owner.signalSchema);
        if (!decoded.ok) return this.refuseFrame(stream, sender, { status: 400, ...decoded.error });
        const { batches, signals } = decoded.frame;
        const foreign = batches.find(({ group }) => !this.owner.hostsGroup(group));
        if (foreign !== undefined) return this.refuseFrame(stream, sender, unknownGroup(foreign.group));
        if (!this.owner.running()) continue; // a stopped node takes nothing; the sender's heartbeats resume later
        // Signals first: a frame loses the order of signals and messages sent in the same turn, and the one order that
        // matters comes out right this way. A follower woken by its sleeping leader's heartbeat sends `wake`, then its
        // answer; delivered answer first, the answer lets the leader sleep and the late `wake` wakes it again, for ever.
        for (const signal of signals) this.owner.signalled(sender, signal);
        for (const { group, messages } of batches) {
          for (const message of messages) this.owner.deliver(sender, group, message);
          this.stats.messagesReceived += messages.length;
        }
      }
    });
    stream.on('end', () => stream.end());
  }

  /** A frame that fails a check: count and log it, and reset the stream (the sender opens another). */
  private refuseFrame(stream: ServerHttp2Stream, from: NodeId, refusal: RequestRefusal): void {
    this.stats.requestsRefused++;
    this.refusals?.record({ ...refusal, sender: from, address: stream.session?.socket?.remoteAddress ?? null });
    stream.close(NGHTTP2_PROTOCOL_ERROR);
  }

  /**
   * A request carrying Raft messages (a batch, or a snapshot chunk): refused unless its content type (when given)
   * is `contentType`, it decodes, and it comes from an admitted sender of this cluster to this node. Then every
   * message is delivered, in order.
   */
  private receiveRequest(
    request: RouteRequest,
    contentType: string,
    decode: (body: Buffer) => DecodeResult,
    claimedSender: (body: Buffer) => NodeId | null,
  ): RouteResponse {
    const typeRefusal = this.envelopeRefusal(request.headers['content-type'], contentType, null, null, null, request);
    if (typeRefusal !== null) return refuse(typeRefusal);
    const decoded = decode(request.body);
    if (!decoded.ok) {
      // Parsed, but not a valid batch: the envelope may still say who sent it (unchecked, like any `from`).
      const from = decoded.error.code === 'INVALID_MESSAGE' ? claimedSender(request.body) : null;
      return this.refuseFrom(request, from, { status: 400, ...decoded.error });
    }
    const batch: WireBatch = decoded.batch;
    const refusal =
      this.envelopeRefusal(undefined, contentType, batch.clusterId, batch.from, batch.to, request) ??
      (this.owner.hostsGroup(batch.group ?? '') ? null : unknownGroup(batch.group ?? ''));
    if (refusal !== null) return this.refuseFrom(request, batch.from, refusal);
    if (!this.owner.running()) return { status: 503, body: { error: { code: 'NOT_RUNNING', message: 'the node is not running' } } };
    for (const message of batch.messages) this.owner.deliver(batch.from, batch.group ?? '', message);
    this.stats.messagesReceived += batch.messages.length;
    return { status: 204 };
  }

  /**
   * Why a request or stream with this content type and envelope is turned away, or null. A null cluster, sender or
   * addressee stands for one that is missing or malformed; all null checks the content type alone.
   */
  private envelopeRefusal(
    type: string | undefined,
    contentType: string,
    clusterId: string | null,
    from: NodeId | null,
    to: NodeId | null,
    credentials: SenderCredentials,
  ): RequestRefusal | null {
    if (type !== undefined && !type.startsWith(contentType)) return { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: `send ${contentType}` };
    if (clusterId === null && from === null && to === null) return null;
    if (clusterId === null || from === null || to === null) {
      return { status: 400, code: 'INVALID_MESSAGE', message: 'a stream names its cluster, sender and addressee in its headers' };
    }
    if (clusterId !== this.options.clusterId) {
      return { status: 403, code: 'WRONG_CLUSTER', message: `this node belongs to another cluster than ${JSON.stringify(clusterId)}` };
    }
    if (to !== this.options.id) return { status: 421, code: 'WRONG_NODE', message: `this is ${this.options.id}, not ${to}` };
    return this.owner.admit(from, credentials);
  }

  /** `refusal`, remembering who `request` claims to come from (when known) for the log. */
  private refuseFrom(request: RouteRequest, from: NodeId | null, refusal: RequestRefusal): RouteResponse {
    if (from !== null) this.claimedSenders.set(request, from);
    return refuse(refusal);
  }

  /** The server answered a 4xx: count it, and log it with its sender (a claimed `from`, else the client's address). */
  private refused({ request, remoteAddress, claimedFrom, ...refusal }: AnsweredRefusal): void {
    this.stats.requestsRefused++;
    if (this.refusals === null) return;
    const from = claimedFrom ?? (request === null ? undefined : this.claimedSenders.get(request));
    this.refusals.record({ ...refusal, sender: from ?? remoteAddress, address: from === undefined ? null : remoteAddress });
  }
}

function unknownGroup(group: string): RequestRefusal {
  return { status: 404, code: 'UNKNOWN_GROUP', message: group === '' ? 'this node hosts named groups only' : `this node hosts no group ${JSON.stringify(group.slice(0, 100))}` };
}

/** The `from` of a JSON batch that parsed but failed validation, if it has a plausible one. */
function claimedInBatch(body: Buffer): NodeId | null {
  return claimedIn(body.toString('utf8'));
}

/** The `from` in the JSON header of a snapshot chunk request (`[u32 header length][header]...`, see src/wire.ts). */
function claimedInChunk(body: Buffer): NodeId | null {
  if (body.length < 4) return null;
  const headerEnd = 4 + body.readUInt32BE(0);
  return headerEnd > body.length ? null : claimedIn(body.toString('utf8', 4, headerEnd));
}

function claimedIn(json: string): NodeId | null {
  try {
    const from: unknown = (JSON.parse(json) as { from?: unknown } | null)?.from;
    return typeof from === 'string' && from.length > 0 && from.length <= MAX_ID_LENGTH ? from : null;
  } catch {
    return null;
  }
}
