import { describe, expect, test } from 'vitest';
import { checkLinearizable, type HistoryEntry, type KvOperation } from '../support/linearizability.js';

let nextId = 0;
const op = (client: string, operation: KvOperation, call: number, ret: number | null, output: string | null = null): HistoryEntry => ({
  id: nextId++,
  client,
  op: operation,
  call,
  ret,
  output,
});
const put = (key: string, value: string): KvOperation => ({ kind: 'put', key, value });
const get = (key: string): KvOperation => ({ kind: 'get', key });
const append = (key: string, value: string): KvOperation => ({ kind: 'append', key, value });

describe('the linearizability checker', () => {
  test('accepts a sequential history that reads its own writes', () => {
    const history = [op('a', put('k', '1'), 0, 1), op('a', get('k'), 2, 3, '1'), op('a', append('k', '2'), 4, 5, '12'), op('a', get('k'), 6, 7, '12')];
    expect(checkLinearizable(history).ok).toBe(true);
  });

  test('rejects a stale read: a get that returns a value overwritten before the get began', () => {
    const history = [op('a', put('k', '1'), 0, 1), op('a', put('k', '2'), 2, 3), op('b', get('k'), 4, 5, '1')];
    const result = checkLinearizable(history);
    expect(result.ok).toBe(false);
    expect(result.key).toBe('k');
  });

  test('accepts either order for operations that overlap in time', () => {
    const history = [op('a', put('k', '1'), 0, 10), op('b', put('k', '2'), 1, 9), op('c', get('k'), 11, 12, '1')];
    expect(checkLinearizable(history).ok).toBe(true);
    const other = [op('a', put('k', '1'), 0, 10), op('b', put('k', '2'), 1, 9), op('c', get('k'), 11, 12, '2')];
    expect(checkLinearizable(other).ok).toBe(true);
  });

  test('a timed-out write may have happened or not, but cannot un-happen', () => {
    const maybe = op('a', put('k', 'x'), 0, null);
    expect(checkLinearizable([maybe, op('b', get('k'), 5, 6, 'x')]).ok).toBe(true);
    expect(checkLinearizable([maybe, op('b', get('k'), 5, 6, null)]).ok).toBe(true);
    expect(checkLinearizable([maybe, op('b', get('k'), 5, 6, 'x'), op('b', get('k'), 7, 8, null)]).ok).toBe(false);
  });

  test('rejects an append whose returned value skips a concurrent append that completed before it began', () => {
    const history = [op('a', append('k', 'a'), 0, 1, 'a'), op('b', append('k', 'b'), 2, 3, 'b')];
    expect(checkLinearizable(history).ok).toBe(false);
  });

  test('keys are independent: a violation on one key is reported with that key', () => {
    const history = [
      op('a', put('x', '1'), 0, 1),
      op('a', get('x'), 2, 3, '1'),
      op('a', put('y', '1'), 0, 1),
      op('b', get('y'), 2, 3, null),
    ];
    expect(checkLinearizable(history)).toMatchObject({ ok: false, key: 'y' });
  });
});
