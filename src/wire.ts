/**
 * The wire format between nodes: zod schemas for every Raft message and for the batch that carries them, and the
 * encode/decode pair that network transports use.
 *
 * A batch is plain JSON: `{ clusterId, from, to, messages: RaftMessage[] }`. Commands inside entries are already the
 * superjson text produced once at proposal time (`Entry.data`), so they travel as JSON strings; there is never a
 * second superjson pass. Bytes from the network are never trusted: `decodeBatch` parses and validates everything,
 * and strips fields it does not know (so that a newer node may add optional fields without breaking older ones).
 *
 * A snapshot chunk (`InstallSnapshot`) is mostly bytes, so it has a framing of its own, one message per request:
 * `[u32 big-endian header length][header: UTF-8 JSON { clusterId, from, to, message }][chunk bytes]`, where
 * `message` is the InstallSnapshot without `data` and everything after the header is `data`
 * (`encodeSnapshotChunkRequest` / `decodeSnapshotChunkRequest`). The bytes are not base64-encoded, and neither
 * function copies them: the encoder hands back a view of `data`, the decoder a view of the body. The header is at
 * most `MAX_SNAPSHOT_HEADER_BYTES`. A batch may still carry an InstallSnapshot with `data` as base64 (older senders
 * did); `decodeBatch` accepts it.
 *
 * Adding a message type to the core's `RaftMessage` is one entry in `messageSchemas`: the `satisfies` clause makes
 * the compiler demand it, and checks that each schema produces exactly the core's type.
 */
import { z } from 'zod';
import type { Entry, NodeId, RaftMessage, SessionTag, SnapshotMeta } from './core/index.js';

/** Longest node id, cluster id, proposal id or client id accepted from the wire. */
export const MAX_ID_LENGTH = 256;
/** Most messages in one batch. */
export const MAX_MESSAGES_PER_BATCH = 10_000;

const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const position = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const id = z.string().min(1).max(MAX_ID_LENGTH);
const ids = z.array(id).max(MAX_MESSAGES_PER_BATCH);

export const sessionTagSchema = z.object({
  client: id,
  seq: count,
  ack: count,
  at: z.number().finite(),
}) satisfies z.ZodType<SessionTag>;

export const entrySchema = z.object({
  index: position,
  term: count,
  kind: z.enum(['command', 'noop', 'config']),
  data: z.string(),
  id: id.optional(),
  session: sessionTagSchema.optional(),
}) satisfies z.ZodType<Entry>;

const proposalSchema = z.object({ id, data: z.string(), session: sessionTagSchema.optional() });

const members = z.array(id).max(MAX_MESSAGES_PER_BATCH);
/** A member's address (host:port, or whatever the transport understands), as a configuration carries it. */
const address = z.string().min(1).max(MAX_ID_LENGTH);
export const snapshotMetaSchema = z.object({
  index: count,
  term: count,
  voters: members,
  learners: members,
  addresses: z.record(id, address).optional(),
}) satisfies z.ZodType<SnapshotMeta>;

/** Snapshot chunks are bytes; inside a JSON batch they travel as base64 (see encodeBatch). */
const bytes = z.base64().transform((text) => new Uint8Array(Buffer.from(text, 'base64')));

type MessageOf<Type extends RaftMessage['type']> = Extract<RaftMessage, { type: Type }>;

/** One schema per Raft message type, keyed by its `type`. */
export const messageSchemas = {
  RequestVote: z.object({
    type: z.literal('RequestVote'),
    term: count,
    lastLogIndex: count,
    lastLogTerm: count,
    preVote: z.boolean(),
    transfer: z.boolean().optional(),
  }),
  RequestVoteResponse: z.object({
    type: z.literal('RequestVoteResponse'),
    term: count,
    granted: z.boolean(),
    preVote: z.boolean(),
    removedAt: position.optional(),
  }),
  AppendEntries: z.object({
    type: z.literal('AppendEntries'),
    term: count,
    prevLogIndex: count,
    prevLogTerm: count,
    entries: z.array(entrySchema).max(MAX_MESSAGES_PER_BATCH),
    leaderCommit: count,
    round: count,
  }),
  AppendEntriesResponse: z.object({
    type: z.literal('AppendEntriesResponse'),
    term: count,
    success: z.boolean(),
    index: count,
    hintIndex: count,
    hintTerm: count,
    round: count,
  }),
  ForwardProposals: z.object({
    type: z.literal('ForwardProposals'),
    term: count,
    proposals: z.array(proposalSchema).max(MAX_MESSAGES_PER_BATCH),
  }),
  ForwardProposalsResponse: z.object({
    type: z.literal('ForwardProposalsResponse'),
    term: count,
    rejected: ids,
    leaderHint: id.nullable(),
  }),
  ReadIndexRequest: z.object({
    type: z.literal('ReadIndexRequest'),
    term: count,
    requestIds: ids,
  }),
  ReadIndexResponse: z.object({
    type: z.literal('ReadIndexResponse'),
    term: count,
    requestIds: ids,
    index: count.nullable(),
    leaderHint: id.nullable(),
  }),
  TimeoutNow: z.object({
    type: z.literal('TimeoutNow'),
    term: count,
  }),
  InstallSnapshot: z.object({
    type: z.literal('InstallSnapshot'),
    term: count,
    // Absent from nodes older than the round field: they count as round 0 (no read confirmed by them).
    round: count.default(0),
    meta: snapshotMetaSchema,
    chunk: count,
    data: bytes,
    done: z.boolean(),
  }),
  InstallSnapshotResponse: z.object({
    type: z.literal('InstallSnapshotResponse'),
    term: count,
    index: count,
    nextChunk: count,
    installed: z.boolean(),
    round: count.default(0),
  }),
} satisfies { [Type in RaftMessage['type']]: z.ZodType<MessageOf<Type>> };

/** Whether A and B have the same keys (optional ones included). */
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
type SchemasMatch =
  | SameKeys<z.output<typeof entrySchema>, Entry>
  | SameKeys<z.output<typeof sessionTagSchema>, SessionTag>
  | SameKeys<z.output<typeof snapshotMetaSchema>, SnapshotMeta>
  | { [Type in RaftMessage['type']]: SameKeys<z.output<(typeof messageSchemas)[Type]>, MessageOf<Type>> }[RaftMessage['type']];
/**
 * `satisfies` alone cannot see a missing *optional* field, which zod would then strip from every message in silence.
 * This line stops compiling when a schema's keys differ from its core type's.
 */
const schemasMatch: false extends SchemasMatch ? never : true = true;
void schemasMatch;

type MessageSchema = (typeof messageSchemas)[keyof typeof messageSchemas];

/** Any Raft message, discriminated by `type`. */
export const raftMessageSchema: z.ZodType<RaftMessage> = z.discriminatedUnion(
  'type',
  Object.values(messageSchemas) as [MessageSchema, ...MessageSchema[]],
);

/** What one HTTP request between nodes carries: every message from one node to another produced in one turn. */
export interface WireBatch {
  readonly clusterId: string;
  readonly from: NodeId;
  readonly to: NodeId;
  /** The group the messages belong to, on a host of many groups (absent: the one group of a single-group node). */
  readonly group?: string;
  readonly messages: readonly RaftMessage[];
}

export const wireBatchSchema: z.ZodType<WireBatch> = z.compile(
  z.object({
    clusterId: id,
    from: id,
    to: id,
    group: z.string().max(MAX_ID_LENGTH).optional(),
    messages: z.array(raftMessageSchema).min(1).max(MAX_MESSAGES_PER_BATCH),
  }),
);

/**
 * Why bytes from the wire were refused. Stable codes, echoed to the sender in the 4xx body. `MALFORMED_FRAME`: a
 * snapshot chunk request shorter than its header length says, or whose header length is over the limit.
 */
export type WireErrorCode = 'MALFORMED_JSON' | 'INVALID_MESSAGE' | 'MALFORMED_FRAME';

export interface WireError {
  readonly code: WireErrorCode;
  readonly message: string;
}

export type DecodeResult = { readonly ok: true; readonly batch: WireBatch } | { readonly ok: false; readonly error: WireError };

/** Encode a batch as plain JSON; byte arrays (snapshot chunks) become base64 strings. */
export function encodeBatch(batch: WireBatch): string {
  // A replacer runs for every key and nearly doubles the cost of an AppendEntries; only snapshot chunks need it.
  if (!batch.messages.some((message) => message.type === 'InstallSnapshot')) return JSON.stringify(batch);
  return JSON.stringify(batch, function (this: Record<string, unknown>, key: string, value: unknown) {
    // `this[key]` is the value before toJSON (a Buffer would otherwise arrive here as { type, data }).
    const original = this[key];
    return original instanceof Uint8Array ? Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64') : value;
  });
}

/** Parse and validate a batch; never throws. */
export function decodeBatch(text: string): DecodeResult {
  const parsed = parseJson(text, 'body');
  if (!parsed.ok) return parsed;
  const result = wireBatchSchema.safeParse(parsed.value);
  if (!result.success) return invalid(result.error.issues);
  return { ok: true, batch: result.data };
}

/** Largest header of a snapshot chunk request, in bytes. */
export const MAX_SNAPSHOT_HEADER_BYTES = 2 ** 20;
/** Bytes of the header length that starts a snapshot chunk request. */
const FRAME_PREFIX_BYTES = 4;

/** One snapshot chunk from one node to another: what a snapshot chunk request carries. */
export interface SnapshotChunkEnvelope {
  readonly clusterId: string;
  readonly from: NodeId;
  readonly to: NodeId;
  /** The group the chunk belongs to, on a host of many groups (absent: the one group of a single-group node). */
  readonly group?: string;
  readonly message: MessageOf<'InstallSnapshot'>;
}

/** The header of a snapshot chunk request: the envelope, and the message without its bytes (they follow the header). */
const snapshotChunkHeaderSchema = z.compile(
  z.object({
    clusterId: id,
    from: id,
    to: id,
    group: z.string().max(MAX_ID_LENGTH).optional(),
    message: messageSchemas.InstallSnapshot.extend({ data: z.never({ error: 'the chunk bytes follow the header; they are not in it' }).optional() }),
  }),
);

/**
 * Encode a snapshot chunk request as two buffers to write one after the other: the header length and header, then
 * the chunk bytes themselves (a view of `message.data`, not a copy).
 */
export function encodeSnapshotChunkRequest({ clusterId, from, to, group, message }: SnapshotChunkEnvelope): [prefix: Buffer, data: Buffer] {
  const { data, ...header } = message;
  const json = JSON.stringify({ clusterId, from, to, ...(group === undefined ? {} : { group }), message: header });
  const headerBytes = Buffer.byteLength(json, 'utf8');
  const prefix = Buffer.allocUnsafe(FRAME_PREFIX_BYTES + headerBytes);
  prefix.writeUInt32BE(headerBytes, 0);
  prefix.write(json, FRAME_PREFIX_BYTES, 'utf8');
  return [prefix, Buffer.from(data.buffer, data.byteOffset, data.byteLength)];
}

/**
 * Parse and validate a snapshot chunk request (see the framing above) as a batch of its one InstallSnapshot, whose
 * `data` is a view of `body` (not a copy); never throws.
 */
export function decodeSnapshotChunkRequest(body: Buffer): DecodeResult {
  if (body.length < FRAME_PREFIX_BYTES) {
    return malformedFrame(`the body has ${body.length} bytes, fewer than the ${FRAME_PREFIX_BYTES} of the header length`);
  }
  const headerBytes = body.readUInt32BE(0);
  if (headerBytes > MAX_SNAPSHOT_HEADER_BYTES) return malformedFrame(`a header of ${headerBytes} bytes is longer than the ${MAX_SNAPSHOT_HEADER_BYTES} allowed`);
  const dataAt = FRAME_PREFIX_BYTES + headerBytes;
  if (dataAt > body.length) return malformedFrame(`a header of ${headerBytes} bytes does not fit in a body of ${body.length}`);
  const parsed = parseJson(body.toString('utf8', FRAME_PREFIX_BYTES, dataAt), 'header');
  if (!parsed.ok) return parsed;
  const result = snapshotChunkHeaderSchema.safeParse(parsed.value);
  if (!result.success) return invalid(result.error.issues);
  const { message, ...envelope } = result.data;
  const { data: _absent, ...fields } = message;
  const data = new Uint8Array(body.buffer, body.byteOffset + dataAt, body.length - dataAt);
  return { ok: true, batch: { ...envelope, messages: [{ ...fields, data }] } };
}

function parseJson(text: string, what: string): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: WireError } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, error: { code: 'MALFORMED_JSON', message: `${what} is not JSON: ${error instanceof Error ? error.message : String(error)}` } };
  }
}

function invalid(issues: readonly z.core.$ZodIssue[]): DecodeResult {
  return { ok: false, error: { code: 'INVALID_MESSAGE', message: summarizeIssues(issues) } };
}

function malformedFrame(message: string): DecodeResult {
  return { ok: false, error: { code: 'MALFORMED_FRAME', message } };
}

/** The first few zod issues as one line, bounded in length (the input is hostile; so is its size). */
export function summarizeIssues(issues: readonly z.core.$ZodIssue[], most = 3): string {
  const shown = issues
    .slice(0, most)
    .map((issue) => `${issue.path.slice(0, 8).join('.') || '(root)'}: ${issue.message.slice(0, 200)}`)
    .join('; ');
  return issues.length > most ? `${shown}; and ${issues.length - most} more` : shown;
}
