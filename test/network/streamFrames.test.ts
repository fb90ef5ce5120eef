/**
 * The stream between nodes: frames survive any cutting of the byte stream, a frame is refused whole when any part of
 * it is wrong, and a stream is refused when it opens with a wrong envelope. Nothing refused reaches the node.
 */
import http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Http2Network, STREAM_PATH } from '../../actors/network/Http2Network.js';
import type { NetworkReply, RaftMessage } from '../../src/index.js';
import { seededRandom } from '../../src/index.js';
import { decodeFrame, encodeFrame, encodeFrames, FRAMES_CONTENT_TYPE, FrameReader, STREAM_HEADERS, type StreamFrame } from '../../src/wireFrames.js';
import { freePorts, waitFor } from './support.js';

const vote = (term: number): RaftMessage => ({ type: 'RequestVote', term, lastLogIndex: 0, lastLogTerm: 0, preVote: true });
const append: RaftMessage = {
  type: 'AppendEntries',
  term: 2,
  prevLogIndex: 1,
  prevLogTerm: 1,
  entries: [{ index: 2, term: 2, kind: 'command', data: '{"json":"ünïcode ✓"}', id: 'p1' }],
  leaderCommit: 1,
  round: 3,
};

describe('stream frames', () => {
  it('go as several frames, none longer than the limit, when a turn holds more than one frame may', () => {
    const large = (i: number): RaftMessage => ({ ...append, prevLogIndex: i, entries: [{ ...append.entries[0]!, data: `{"json":"${'x'.repeat(1000)}"}` }] });
    const frame: StreamFrame = {
      batches: [{ group: 'a', messages: Array.from({ length: 30 }, (_, i) => large(i)) }, { group: 'b', messages: [vote(3), large(99)] }],
      signals: [{ type: 'beat', incarnation: 'x' }],
    };
    const frames = encodeFrames(frame, 4096);
    expect(frames.length).toBeGreaterThan(8);
    // Read back in order, they carry the same messages in the same order, the signals with the first frame.
    const reader = new FrameReader(4096);
    const bodies = reader.push(Buffer.concat(frames));
    if (!Array.isArray(bodies)) throw new Error(bodies.message);
    const decoded = bodies.map((body) => decodeFrame(body, z.unknown()));
    const read = decoded.map((result) => (result.ok ? result.frame : null));
    expect(read.every((one) => one !== null)).toBe(true);
    const flat = (frames: readonly StreamFrame[]) => frames.flatMap(({ batches }) => batches.flatMap(({ group, messages }) => messages.map((message) => [group, message])));
    expect(flat(read as StreamFrame[])).toEqual(flat([frame]));
    expect(read.map((one) => one!.signals.length)).toEqual([1, ...Array(read.length - 1).fill(0)]);
    // Within the limit, one frame as before.
    expect(encodeFrames(frame, 1 << 20)).toEqual([encodeFrame(frame)]);
  });

  it('come out whole and in order however the byte stream is cut', () => {
    const frames: StreamFrame[] = Array.from({ length: 40 }, (_, i) => ({
      batches: [{ group: '', messages: [vote(i + 1), append] }, { group: `g${i}`, messages: [vote(1)] }],
      signals: [],
    }));
    const bytes = Buffer.concat(frames.map(encodeFrame));
    const random = seededRandom(7);
    for (let round = 0; round < 20; round++) {
      const reader = new FrameReader(1 << 20);
      const bodies: Buffer[] = [];
      for (let at = 0; at < bytes.length; ) {
        const size = 1 + Math.floor(random() * 300);
        const pushed = reader.push(bytes.subarray(at, at + size));
        if (!Array.isArray(pushed)) throw new Error(pushed.message);
        bodies.push(...pushed);
        at += size;
      }
      expect(bodies.map((body) => decodeFrame(body, null))).toEqual(frames.map((frame) => ({ ok: true, frame })));
    }
  });

  it('refuse a length over the limit before buffering the frame', () => {
    const reader = new FrameReader(100);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(101);
    expect(reader.push(head)).toMatchObject({ code: 'MALFORMED_FRAME' });
  });

  it('are refused whole for one bad message, a bad shape or a signal the receiver does not take', () => {
    const body = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
    expect(decodeFrame(Buffer.from('{"b":'), null)).toMatchObject({ ok: false, error: { code: 'MALFORMED_JSON' } });
    expect(decodeFrame(body({ b: [{ g: '', m: [vote(1), { ...vote(2), term: -1 }] }] }), null)).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    expect(decodeFrame(body({ b: [{ g: '', m: [] }] }), null)).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    expect(decodeFrame(body({ b: [], s: [{ beat: 1 }] }), null)).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    const beat = z.object({ beat: z.number() });
    expect(decodeFrame(body({ b: [], s: [{ beat: 1 }] }), beat)).toEqual({ ok: true, frame: { batches: [], signals: [{ beat: 1 }] } });
    expect(decodeFrame(body({ b: [], s: [{ beat: 'x' }] }), beat)).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
  });
});

describe('a node receiving streams', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function receiver() {
    const [port] = await freePorts(1);
    const lines: string[] = [];
    const network = new Http2Network({ id: 'n1', clusterId: 'net-test', peers: { n2: '127.0.0.1:1' }, listen: { port: port! }, log: (line) => lines.push(line) });
    await network.listen();
    const replies: NetworkReply[] = [];
    network.attach((reply) => replies.push(reply));
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => undefined);
    cleanups.push(() => {
      session.destroy();
      network.detach();
      return network.close();
    });
    /** Open a stream with these envelope headers; resolves with its status once answered, and the stream. */
    const open = (headers: Record<string, string>) =>
      new Promise<{ status: number; stream: http2.ClientHttp2Stream; closed: Promise<number> }>((resolve) => {
        const stream = session.request({ ':method': 'POST', ':path': STREAM_PATH, 'content-type': FRAMES_CONTENT_TYPE, ...headers }, { endStream: false });
        stream.on('error', () => undefined);
        const closed = new Promise<number>((done) => stream.on('close', () => done(stream.rstCode ?? 0)));
        stream.on('response', (answer) => resolve({ status: Number(answer[':status']), stream, closed }));
      });
    const envelope = { [STREAM_HEADERS.cluster]: 'net-test', [STREAM_HEADERS.from]: 'n2', [STREAM_HEADERS.to]: 'n1' };
    return { network, replies, lines, open, envelope };
  }

  it('takes frames from a member and delivers every message in order', async () => {
    const { replies, open, envelope, network } = await receiver();
    const { status, stream } = await open(envelope);
    expect(status).toBe(200);
    stream.write(encodeFrame({ batches: [{ group: '', messages: [vote(1), vote(2)] }], signals: [] }));
    stream.write(encodeFrame({ batches: [{ group: '', messages: [append] }], signals: [] }));
    await waitFor(() => replies.length === 3, 'three deliveries');
    expect(replies).toEqual([vote(1), vote(2), append].map((message) => ({ type: 'Received', from: 'n2', message })));
    expect(network.stats.requestsRefused).toBe(0);
  });

  it('refuses a stream from another cluster, to another node, from a stranger or without its envelope, and logs it', async () => {
    const { replies, open, envelope, network, lines } = await receiver();
    expect((await open({ ...envelope, [STREAM_HEADERS.cluster]: 'other' })).status).toBe(403);
    expect((await open({ ...envelope, [STREAM_HEADERS.to]: 'n9' })).status).toBe(421);
    expect((await open({ ...envelope, [STREAM_HEADERS.from]: 'n7' })).status).toBe(403);
    expect((await open({ [STREAM_HEADERS.from]: 'n2' })).status).toBe(400);
    expect(network.stats.requestsRefused).toBe(4);
    expect(replies).toEqual([]);
    expect(lines[0]).toBe('refused a request from n2 (127.0.0.1): 403 WRONG_CLUSTER: this node belongs to another cluster than "other"');
  });

  it('resets a stream at its first bad frame, delivers nothing of that frame, and takes a new stream afterwards', async () => {
    const { replies, open, envelope, network, lines } = await receiver();
    const first = await open(envelope);
    // One good message and one bad one in the same frame: neither is delivered.
    first.stream.write(encodeFrame({ batches: [{ group: '', messages: [vote(1), { ...vote(2), term: -1 }] }], signals: [] }));
    expect(await first.closed).toBe(http2.constants.NGHTTP2_PROTOCOL_ERROR);
    const second = await open(envelope);
    // A named group is for a host of many groups: this single-group node refuses the frame.
    second.stream.write(encodeFrame({ batches: [{ group: 'g1', messages: [vote(3)] }], signals: [] }));
    expect(await second.closed).toBe(http2.constants.NGHTTP2_PROTOCOL_ERROR);
    const third = await open(envelope);
    third.stream.write(encodeFrame({ batches: [{ group: '', messages: [vote(4)] }], signals: [] }));
    await waitFor(() => replies.length === 1, 'the good frame');
    expect(replies).toEqual([{ type: 'Received', from: 'n2', message: vote(4) }]);
    expect(network.stats.requestsRefused).toBe(2);
    expect(lines[0]).toMatch(/^refused a request from n2 \(127\.0\.0\.1\): 400 INVALID_MESSAGE: b\.0\.m\.1/);
    expect(lines[1]).toMatch(/^refused a request from n2 \(127\.0\.0\.1\): 404 UNKNOWN_GROUP/);
  });
});

describe('a node whose stream was refused', () => {
  it('opens another once the peer admits it, and its messages flow again', async () => {
    const [p1, p2] = await freePorts(2);
    const sender = new Http2Network({ id: 'n1', clusterId: 'net-test', peers: { n2: `127.0.0.1:${p2}` }, listen: { port: p1! }, backoff: { initialMs: 10, maxMs: 50 } });
    // n2 does not know n1 yet (a node that has not learned its new peer from the log).
    const receiver = new Http2Network({ id: 'n2', clusterId: 'net-test', peers: {}, listen: { port: p2! } });
    await Promise.all([sender.listen(), receiver.listen()]);
    const received: NetworkReply[] = [];
    sender.attach(() => undefined);
    receiver.attach((reply) => received.push(reply));
    try {
      sender.receive({ type: 'Send', to: 'n2', message: vote(1) });
      await waitFor(() => sender.stats.requestsRefusedByPeers > 0, 'the refusal');
      receiver.setPeer('n1', `127.0.0.1:${p1}`);
      await waitFor(() => {
        sender.receive({ type: 'Send', to: 'n2', message: vote(2) });
        return received.length > 0;
      }, 'a delivery on a new stream', 5000, 20);
      expect(received[0]).toEqual({ type: 'Received', from: 'n1', message: vote(2) });
    } finally {
      sender.detach();
      receiver.detach();
      await Promise.all([sender.close(), receiver.close()]);
    }
  });
});
