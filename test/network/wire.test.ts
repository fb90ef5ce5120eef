/**
 * The wire schemas: every message type round-trips through encode/decode unchanged, unknown fields are stripped,
 * and anything else is refused with a stable code and a bounded message.
 */
import { describe, expect, it } from 'vitest';
import type { RaftMessage } from '../../src/core/index.js';
import { decodeBatch, encodeBatch, messageSchemas } from '../../src/wire.js';

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
