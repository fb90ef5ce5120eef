/**
 * The wire schemas: every message type round-trips through encode/decode unchanged, unknown fields are stripped,
 * and anything else is refused with a stable code and a bounded message.
 */
import { describe, expect, it } from 'vitest';
import type { RaftMessage } from '../../src/core/index.js';
import { seededRandom } from '../../src/index.js';
import { decodeBatch, decodeSnapshotChunkRequest, encodeBatch, encodeSnapshotChunkRequest, MAX_ID_LENGTH, messageSchemas } from '../../src/wire.js';

const entry = { index: 3, term: 2, kind: 'command', data: '{"json":{"a":1},"meta":{"values":{"a":["bigint"]}}}', id: 'p1', session: { client: 'c', seq: 1, ack: 0, at: 5 } } as const;
const samples: RaftMessage[] = [
  { type: 'RequestVote', term: 3, lastLogIndex: 9, lastLogTerm: 2, preVote: true },
  { type: 'RequestVoteResponse', term: 3, granted: false, preVote: false },
  { type: 'AppendEntries', term: 2, prevLogIndex: 2, prevLogTerm: 1, entries: [entry, { index: 4, term: 2, kind: 'noop', data: '' }], leaderCommit: 2, round: 7 },
  { type: 'AppendEntriesResponse', term: 2, success: false, index: 2, hintIndex: 1, hintTerm: 1, round: 7 },
  { type: 'ForwardProposals', term: 2, proposals: [{ id: 'x', data: '"v"' }] },
  { type: 'ForwardProposalsResponse', term: 2, rejected: ['x'], leaderHint: null },
  { type: 'ReadIndexRequest', term: 2, requestIds: ['r1', 'r2'] },
  { type: 'ReadIndexResponse', term: 2, requestIds: ['r1'], index: null, leaderHint: 'n2' },
  { type: 'TimeoutNow', term: 4 },
];

describe('wire', () => {
  it('round-trips every message', () => {
    const batch = { clusterId: 'c', from: 'n1', to: 'n2', messages: samples };
    expect(decodeBatch(encodeBatch(batch))).toEqual({ ok: true, batch });
    for (const sample of samples) expect(Object.keys(messageSchemas)).toContain(sample.type);
  });

  it('keeps command data as the string it was proposed as: one JSON pass, no second superjson', () => {
    const text = encodeBatch({ clusterId: 'c', from: 'n1', to: 'n2', messages: [samples[2]!] });
    expect(JSON.parse(text).messages[0].entries[0].data).toBe(entry.data);
  });

  it('strips unknown fields and refuses the rest with a code', () => {
    const extra = decodeBatch(JSON.stringify({ clusterId: 'c', from: 'n1', to: 'n2', future: 1, messages: [{ ...samples[0], future: true }] }));
    expect(extra).toEqual({ ok: true, batch: { clusterId: 'c', from: 'n1', to: 'n2', messages: [samples[0]] } });
    expect(decodeBatch('{').ok).toBe(false);
    expect(decodeBatch('[]')).toMatchObject({ ok: false, error: { code: 'INVALID_MESSAGE' } });
    expect(decodeBatch('{')).toMatchObject({ ok: false, error: { code: 'MALFORMED_JSON' } });
    const many = decodeBatch(JSON.stringify({ clusterId: 1, from: 2, to: 3, messages: [{ type: 'AppendEntries' }] }));
    expect(many.ok).toBe(false);
    if (!many.ok) expect(many.error.message).toMatch(/and \d+ more$/);
    for (const bad of [{ ...samples[0], term: -1 }, { ...samples[0], term: 1.5 }, { ...samples[2], entries: [{ ...entry, index: 0 }] }, { type: 'Nope', term: 1 }]) {
      expect(decodeBatch(JSON.stringify({ clusterId: 'c', from: 'n1', to: 'n2', messages: [bad] })).ok, JSON.stringify(bad)).toBe(false);
    }
    expect(decodeBatch(JSON.stringify({ clusterId: 'c', from: 'n1', to: 'n2', messages: [] })).ok).toBe(false);
  });
});

describe('snapshot chunk requests', () => {
  const meta = { index: 40, term: 3, voters: ['n1', 'n2', 'n3'], learners: [] };
  const chunk = { type: 'InstallSnapshot', term: 3, round: 4, meta, chunk: 2, data: new Uint8Array([0, 1, 2, 250, 255, 7]), done: false } as const;
  const envelope = { clusterId: 'c', from: 'n1', to: 'n2' };
  /** A body with `header` (JSON-encoded unless it is already a string) framed by its length, then `data`. */
  const frame = (header: unknown, data: Uint8Array = new Uint8Array([9, 9]), length?: number): Buffer => {
    const bytes = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(length ?? bytes.length);
    return Buffer.concat([prefix, bytes, data]);
  };

  it('round-trips, with the bytes after the header and data a view of the body, not a copy', () => {
    const parts = encodeSnapshotChunkRequest({ ...envelope, message: chunk });
    expect(parts).toHaveLength(2);
    // The bytes go out as they are: the last part is a view of the message's data.
    expect(parts[1]!.buffer).toBe(chunk.data.buffer);
    const body = Buffer.concat(parts);
    expect([...body.subarray(body.length - chunk.data.length)]).toEqual([...chunk.data]);
    const decoded = decodeSnapshotChunkRequest(body);
    expect(decoded).toEqual({ ok: true, batch: { ...envelope, messages: [chunk] } });
    if (!decoded.ok) return;
    const data = (decoded.batch.messages[0] as typeof chunk).data;
    expect(data).toBeInstanceOf(Uint8Array);
    expect(data.buffer).toBe(body.buffer);
    body[body.length - 1] = 42;
    expect(data[data.length - 1]).toBe(42);
  });

  it('round-trips an empty last chunk and a large one', () => {
    const empty = { ...chunk, data: new Uint8Array(0), done: true };
    expect(decodeSnapshotChunkRequest(Buffer.concat(encodeSnapshotChunkRequest({ ...envelope, message: empty })))).toEqual({ ok: true, batch: { ...envelope, messages: [empty] } });
    const large = { ...chunk, data: new Uint8Array(1 << 20).map((_, i) => i % 251) };
    const decoded = decodeSnapshotChunkRequest(Buffer.concat(encodeSnapshotChunkRequest({ ...envelope, message: large })));
    expect(decoded.ok && Buffer.from((decoded.batch.messages[0] as typeof chunk).data).equals(Buffer.from(large.data))).toBe(true);
  });

  it('strips unknown fields of the header', () => {
    const decoded = decodeSnapshotChunkRequest(frame({ ...envelope, future: 1, message: { ...chunk, data: undefined, future: true } }, new Uint8Array([5])));
    expect(decoded).toEqual({ ok: true, batch: { ...envelope, messages: [{ ...chunk, data: new Uint8Array([5]) }] } });
  });

  it('still decodes an InstallSnapshot inside a JSON batch, with data as base64 (older senders)', () => {
    const text = encodeBatch({ ...envelope, messages: [chunk] });
    expect(JSON.parse(text).messages[0].data).toBe(Buffer.from(chunk.data).toString('base64'));
    expect(decodeBatch(text)).toEqual({ ok: true, batch: { ...envelope, messages: [chunk] } });
  });

  it('refuses bad frames and bad headers with a code, and never throws', () => {
    const { data: _data, ...header } = chunk;
    const good = { ...envelope, message: header };
    expect(decodeSnapshotChunkRequest(frame(good)).ok).toBe(true);
    const refusals: [string, Buffer, string][] = [
      ['empty body', Buffer.alloc(0), 'MALFORMED_FRAME'],
      ['3-byte body', Buffer.from([0, 0, 0]), 'MALFORMED_FRAME'],
      ['header longer than the body', frame(good, new Uint8Array(0), JSON.stringify(good).length + 1), 'MALFORMED_FRAME'],
      ['header length past 1 MiB', frame(good, new Uint8Array(0), 2 ** 20 + 1), 'MALFORMED_FRAME'],
      ['header length 2^32 - 1', frame(good, new Uint8Array(0), 2 ** 32 - 1), 'MALFORMED_FRAME'],
      ['header not JSON', frame('{"clusterId":'), 'MALFORMED_JSON'],
      ['header cut short by its length', frame(good, new Uint8Array(8), 10), 'MALFORMED_JSON'],
      ['header of zero bytes', frame(''), 'MALFORMED_JSON'],
      ['header not an object', frame([good]), 'INVALID_MESSAGE'],
      ['no message', frame(envelope), 'INVALID_MESSAGE'],
      ['no cluster id', frame({ from: 'n1', to: 'n2', message: header }), 'INVALID_MESSAGE'],
      ['message without meta', frame({ ...good, message: { ...header, meta: undefined } }), 'INVALID_MESSAGE'],
      ['negative chunk', frame({ ...good, message: { ...header, chunk: -1 } }), 'INVALID_MESSAGE'],
      ['term as a string', frame({ ...good, message: { ...header, term: '3' } }), 'INVALID_MESSAGE'],
      ['done as a number', frame({ ...good, message: { ...header, done: 1 } }), 'INVALID_MESSAGE'],
      ['sender id too long', frame({ ...good, from: 'x'.repeat(MAX_ID_LENGTH + 1) }), 'INVALID_MESSAGE'],
      ['data in the header as garbage', frame({ ...good, message: { ...header, data: '!!not base64!!' } }), 'INVALID_MESSAGE'],
      ['data in the header as base64', frame({ ...good, message: { ...header, data: 'AAEC' } }), 'INVALID_MESSAGE'],
      ['AppendEntries in the header', frame({ ...good, message: samples[2] }), 'INVALID_MESSAGE'],
      ['InstallSnapshotResponse in the header', frame({ ...good, message: { type: 'InstallSnapshotResponse', term: 3, index: 40, nextChunk: 0, installed: false } }), 'INVALID_MESSAGE'],
    ];
    for (const [what, body, code] of refusals) {
      const decoded = decodeSnapshotChunkRequest(body);
      expect(decoded, what).toMatchObject({ ok: false, error: { code } });
      if (!decoded.ok) expect(decoded.error.message.length, what).toBeLessThan(1000);
    }
  });

  it('never throws on random bytes', () => {
    const random = seededRandom(5);
    for (let i = 0; i < 2000; i++) {
      const body = Buffer.alloc(Math.floor(random() * 64));
      for (let at = 0; at < body.length; at++) body[at] = Math.floor(random() * 256);
      // Small header lengths, so that some bodies get as far as the JSON.
      if (body.length >= 4 && random() < 0.5) body.writeUInt32BE(Math.floor(random() * body.length), 0);
      expect(decodeSnapshotChunkRequest(body).ok).toBe(false);
    }
  });
});
