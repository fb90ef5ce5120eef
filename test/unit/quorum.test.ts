/** quorum.ts: majority arithmetic for one configuration (etcd's quorum package, in small). */
import { describe, expect, it } from 'vitest';
import { committedIndex, majority, voteResult } from '../../src/core/quorum.js';

describe('majority', () => {
  it('is more than half of the voters', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(majority)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });
});

describe('committedIndex: the highest index a majority has matched', () => {
  const match = (indexes: Record<string, number>) => (id: string) => indexes[id] ?? 0;

  it('takes the majority-th highest match index', () => {
    expect(committedIndex(['a', 'b', 'c'], match({ a: 5, b: 3, c: 1 }))).toBe(3);
    expect(committedIndex(['a', 'b', 'c', 'd', 'e'], match({ a: 9, b: 9, c: 4, d: 2, e: 7 }))).toBe(7);
  });

  it('needs a strict majority in an even configuration', () => {
    expect(committedIndex(['a', 'b', 'c', 'd'], match({ a: 8, b: 8, c: 2, d: 2 }))).toBe(2);
  });

  it('counts a voter it knows nothing about as 0', () => {
    expect(committedIndex(['a', 'b', 'c'], match({ a: 4 }))).toBe(0);
    expect(committedIndex(['a', 'b', 'c'], match({ a: 4, b: 4 }))).toBe(4);
  });

  it('is 0 without voters', () => {
    expect(committedIndex([], () => 10)).toBe(0);
  });
});

describe('voteResult: an election is won with a majority and lost once a majority is out of reach', () => {
  const votes = (entries: [string, boolean][]) => new Map(entries);

  it('is pending until a majority has decided either way', () => {
    expect(voteResult(['a', 'b', 'c'], votes([['a', true]]))).toBe('pending');
    expect(voteResult(['a', 'b', 'c'], votes([['a', true], ['b', false]]))).toBe('pending');
  });

  it('is won with a majority of grants', () => {
    expect(voteResult(['a', 'b', 'c'], votes([['a', true], ['c', true]]))).toBe('won');
  });

  it('is lost as soon as the rejections leave no majority', () => {
    expect(voteResult(['a', 'b', 'c', 'd'], votes([['b', false], ['c', false]]))).toBe('lost');
    expect(voteResult(['a', 'b', 'c', 'd', 'e'], votes([['b', false], ['c', false]]))).toBe('pending');
  });

  it('ignores votes from nodes outside the configuration', () => {
    expect(voteResult(['a', 'b', 'c'], votes([['a', true], ['x', true], ['y', true]]))).toBe('pending');
  });
});
