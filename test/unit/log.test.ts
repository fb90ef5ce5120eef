/** log.ts: the core's contiguous view of the replicated log. */
import { describe, expect, it } from 'vitest';
import { RaftLog } from '../../src/core/log.js';
import type { Entry } from '../../src/core/types.js';

const entries = (...terms: number[]): Entry[] => terms.map((term, i) => ({ index: i + 1, term, kind: 'command', data: `e${i + 1}` }));

describe('RaftLog', () => {
  it('starts from the empty prefix: index 0 has term 0', () => {
    const log = new RaftLog();
    expect([log.firstIndex, log.lastIndex, log.lastTerm, log.termAt(0)]).toEqual([1, 0, 0, 0]);
    expect(log.termAt(1)).toBeUndefined();
  });

  it('refuses entries that are not contiguous, at construction and on append', () => {
    expect(() => new RaftLog([{ index: 2, term: 1, kind: 'noop', data: '' }])).toThrow(/not contiguous/);
    const log = new RaftLog(entries(1, 1));
    expect(() => log.append([{ index: 4, term: 1, kind: 'noop', data: '' }])).toThrow(/out of order/);
  });

  it('answers terms and entries inside the log and undefined outside it', () => {
    const log = new RaftLog(entries(1, 1, 2));
    expect([log.termAt(1), log.termAt(3), log.termAt(4)]).toEqual([1, 2, undefined]);
    expect(log.entryAt(2)?.data).toBe('e2');
    expect(log.entryAt(0)).toBeUndefined();
  });

  it('slices an inclusive range, clamped to the log and to a limit', () => {
    const log = new RaftLog(entries(1, 1, 2, 2, 3));
    expect(log.slice(2, 4).map((entry) => entry.index)).toEqual([2, 3, 4]);
    expect(log.slice(0, 99).map((entry) => entry.index)).toEqual([1, 2, 3, 4, 5]);
    expect(log.slice(2, 5, 2).map((entry) => entry.index)).toEqual([2, 3]);
    expect(log.slice(4, 3)).toEqual([]);
  });

  it('judges up-to-date logs by last term first, then by length (paper 5.4.1)', () => {
    const log = new RaftLog(entries(1, 2, 2));
    expect(log.isUpToDate(1, 3)).toBe(true);
    expect(log.isUpToDate(3, 2)).toBe(true);
    expect(log.isUpToDate(2, 2)).toBe(false);
    expect(log.isUpToDate(9, 1)).toBe(false);
  });

  it('finds the last index at or below a given one whose term is at most a given term (fast backtracking)', () => {
    const log = new RaftLog(entries(1, 1, 2, 2, 4, 4));
    expect(log.lastIndexWithTermAtMost(6, 3)).toEqual({ index: 4, term: 2 });
    expect(log.lastIndexWithTermAtMost(3, 1)).toEqual({ index: 2, term: 1 });
    expect(log.lastIndexWithTermAtMost(99, 9)).toEqual({ index: 6, term: 4 });
    expect(log.lastIndexWithTermAtMost(6, 0)).toEqual({ index: 0, term: 0 });
  });

  it('answers an index before a compacted log starts with that index, so a leader sends its snapshot there', () => {
    const log = new RaftLog(entries(1, 1, 2, 2, 4, 4));
    log.compact(4);
    expect(log.lastIndexWithTermAtMost(2, 4)).toEqual({ index: 2, term: 0 });
    expect(log.lastIndexWithTermAtMost(4, 4)).toEqual({ index: 4, term: 2 });
    expect(log.lastIndexWithTermAtMost(6, 3)).toEqual({ index: 4, term: 2 });
  });

  it('drops a suffix on truncation and appends after it again', () => {
    const log = new RaftLog(entries(1, 1, 2, 2));
    log.truncateFrom(3);
    expect([log.lastIndex, log.lastTerm]).toEqual([2, 1]);
    log.append([{ index: 3, term: 5, kind: 'noop', data: '' }]);
    expect([log.lastIndex, log.lastTerm]).toEqual([3, 5]);
    expect(() => log.truncateFrom(0)).toThrow(/at or before the log start/);
  });
});
