/**
 * The stream framing between nodes: each node keeps one long-lived HTTP/2 stream to each peer and writes frames on
 * it, instead of one request per batch (a request costs more than the messages it carries: headers, a stream, an
 * answer). A frame is `[u32 big-endian length][UTF-8 JSON body]`, and the body is
 *
 *   { "b": [ { "g": group, "m": [RaftMessage, ...] }, ... ], "s": [signal, ...] }
 *
 * `b` holds the Raft messages of one turn, per group (`""` is the group of a single-group node; a host of many groups
 * puts each group's messages under its id), in the order they were sent. `s` holds host-level signals (liveness and
 * quiescing of a multi-group host), whose shape the receiver validates with the schema it was given, and delivers
 * before the frame's messages (see Http2Endpoint). Who sends, to
 * whom and in which cluster is said once, in the stream's headers, and checked once when it opens.
 *
 * Bytes from the network are never trusted: `FrameReader` refuses a frame longer than its limit before buffering it,
 * and `decodeFrame` parses and validates the whole body (every message against `raftMessageSchema`) or refuses it.
 */
import { z } from 'zod';
import type { RaftMessage } from './core/index.js';
import { MAX_ID_LENGTH, MAX_MESSAGES_PER_BATCH, raftMessageSchema, summarizeIssues, type WireError } from './wire.js';

/** A group's id on the wire: `""` for the one group of a single-group node. */
export type WireGroupId = string;

/** The messages of one group in a frame, in the order they were sent. */
export interface GroupMessages {
  readonly group: WireGroupId;
  readonly messages: readonly RaftMessage[];
}

/** One frame: messages per group, and host-level signals (validated by the receiver's own schema). */
export interface StreamFrame<Signal = unknown> {
  readonly batches: readonly GroupMessages[];
  readonly signals: readonly Signal[];
}

/** Bytes of the length that starts every frame. */
export const FRAME_LENGTH_BYTES = 4;
/** The longest frame body a node reads by default (the HTTP/2 transports' `maxBodyBytes`). */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 2 ** 20;

/** The headers a stream opens with: the cluster, the sender and the addressee, checked once per stream. */
export const STREAM_HEADERS = { cluster: 'x-xraft-cluster', from: 'x-xraft-from', to: 'x-xraft-to' } as const;
export const FRAMES_CONTENT_TYPE = 'application/x-xraft-frames';

const frameBodySchema = z.compile(
  z.object({
    b: z
      .array(z.object({ g: z.string().max(MAX_ID_LENGTH), m: z.array(raftMessageSchema).min(1).max(MAX_MESSAGES_PER_BATCH) }))
      .max(MAX_MESSAGES_PER_BATCH),
    s: z.array(z.unknown()).max(MAX_MESSAGES_PER_BATCH).optional(),
  }),
);

/** A frame as bytes, its length first. Snapshot chunks do not travel in frames (see src/wire.ts): they are bytes. */
export function encodeFrame(frame: StreamFrame): Buffer {
  const body: { b: { g: string; m: readonly RaftMessage[] }[]; s?: readonly unknown[] } = {
    b: frame.batches.map(({ group, messages }) => ({ g: group, m: messages })),
  };
  if (frame.signals.length > 0) body.s = frame.signals;
  const json = JSON.stringify(body);
  const length = Buffer.byteLength(json, 'utf8');
  const bytes = Buffer.allocUnsafe(FRAME_LENGTH_BYTES + length);
  bytes.writeUInt32BE(length, 0);
  bytes.write(json, FRAME_LENGTH_BYTES, 'utf8');
  return bytes;
}

/**
 * `frame` as one or more frames of at most `maxBytes` of body each, in order: a turn's messages for a peer can add up
 * to more than the peer reads in one frame (many appends in flight, large commands), and a frame it refuses would be
 * refused again on every retry. Split between messages, the signals with the first part. A single message longer than
 * `maxBytes` still goes alone (the core bounds an append by `maxBytesPerMessage`, commands by `maxCommandBytes`).
 */
export function encodeFrames(frame: StreamFrame, maxBytes: number): Buffer[] {
  const whole = encodeFrame(frame);
  const messages = frame.batches.flatMap(({ group, messages }) => messages.map((message) => ({ group, message })));
  if (whole.length - FRAME_LENGTH_BYTES <= maxBytes || messages.length < 2) return [whole];
  const half = Math.ceil(messages.length / 2);
  return [
    ...encodeFrames({ batches: regroup(messages.slice(0, half)), signals: frame.signals }, maxBytes),
    ...encodeFrames({ batches: regroup(messages.slice(half)), signals: [] }, maxBytes),
  ];
}

/** Consecutive messages of the same group back into one batch. */
function regroup(messages: readonly { readonly group: WireGroupId; readonly message: RaftMessage }[]): GroupMessages[] {
  const batches: { group: WireGroupId; messages: RaftMessage[] }[] = [];
  for (const { group, message } of messages) {
    const last = batches[batches.length - 1];
    if (last !== undefined && last.group === group) last.messages.push(message);
    else batches.push({ group, messages: [message] });
  }
  return batches;
}

export type FrameDecodeResult<Signal> = { readonly ok: true; readonly frame: StreamFrame<Signal> } | { readonly ok: false; readonly error: WireError };

/** Parse and validate one frame's body (without its length); signals are checked with `signalSchema`. Never throws. */
export function decodeFrame<Signal>(body: Buffer, signalSchema: z.ZodType<Signal> | null): FrameDecodeResult<Signal> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (error) {
    return { ok: false, error: { code: 'MALFORMED_JSON', message: `a frame is not JSON: ${error instanceof Error ? error.message : String(error)}` } };
  }
  const parsed = frameBodySchema.safeParse(value);
  if (!parsed.success) return { ok: false, error: { code: 'INVALID_MESSAGE', message: summarizeIssues(parsed.error.issues) } };
  const signals: Signal[] = [];
  for (const signal of parsed.data.s ?? []) {
    if (signalSchema === null) return { ok: false, error: { code: 'INVALID_MESSAGE', message: 's: this node takes no host signals' } };
    const checked = signalSchema.safeParse(signal);
    if (!checked.success) return { ok: false, error: { code: 'INVALID_MESSAGE', message: `s: ${summarizeIssues(checked.error.issues)}` } };
    signals.push(checked.data);
  }
  return { ok: true, frame: { batches: parsed.data.b.map(({ g, m }) => ({ group: g, messages: m })), signals } };
}

/**
 * Cuts a byte stream into frame bodies. Chunks are pushed as they arrive; whole bodies come out in order. A length
 * over `maxFrameBytes` is an error before any of the frame is buffered: the stream is then unusable.
 */
export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** The bodies completed by `chunk`, or an error (and nothing more is read). */
  push(chunk: Buffer): Buffer[] | WireError {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const bodies: Buffer[] = [];
    while (this.pendingBytes >= FRAME_LENGTH_BYTES) {
      const head = this.contiguous(FRAME_LENGTH_BYTES);
      const length = head.readUInt32BE(0);
      if (length > this.maxFrameBytes) {
        this.pending = [];
        this.pendingBytes = 0;
        return { code: 'MALFORMED_FRAME', message: `a frame of ${length} bytes is longer than the ${this.maxFrameBytes} allowed` };
      }
      if (this.pendingBytes < FRAME_LENGTH_BYTES + length) break;
      const whole = this.contiguous(FRAME_LENGTH_BYTES + length);
      bodies.push(whole.subarray(FRAME_LENGTH_BYTES, FRAME_LENGTH_BYTES + length));
      this.consume(FRAME_LENGTH_BYTES + length);
    }
    return bodies;
  }

  /** The first `bytes` pending bytes as one buffer (joining chunks only when a frame spans them). */
  private contiguous(bytes: number): Buffer {
    const first = this.pending[0]!;
    if (first.length >= bytes) return first;
    const joined = Buffer.concat(this.pending);
    this.pending = [joined];
    return joined;
  }

  private consume(bytes: number): void {
    const first = this.pending[0]!;
    if (first.length === bytes) this.pending.shift();
    else this.pending[0] = first.subarray(bytes);
    this.pendingBytes -= bytes;
  }
}
