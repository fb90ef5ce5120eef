/**
 * Nagle's rule for the log's tail (RaftConfig.maxInflightTailMessages): under load a leader lets the entries that
 * would not fill a message wait for an answer, so that they travel as one append instead of many; a lone write, and
 * a follower catching up, wait for nothing.
 */
import { describe, expect, it } from 'vitest';
import type { AppendEntries, Effect } from '../../src/core/index.js';
import { CoreCluster, isType, type InFlight } from './coreCluster.js';

const appendsTo = (to: string) => (effects: readonly Effect[]): AppendEntries[] =>
  effects.flatMap((effect) => (effect.type === 'send' && effect.to === to && effect.message.type === 'AppendEntries' ? [effect.message] : []));

function leaderOfThree(config: ConstructorParameters<typeof CoreCluster>[1] = {}): CoreCluster {
  const cluster = new CoreCluster(['n1', 'n2', 'n3'], config);
  cluster.elect('n1');
  cluster.input('n1', (core) => core.heartbeatDue());
  cluster.deliver();
  return cluster;
}

const propose = (cluster: CoreCluster, id: string): AppendEntries[] => appendsTo('n2')(cluster.input('n1', (core) => core.propose([{ id, data: `"${id}"` }])));
const appendsFor = (to: string) => (message: InFlight): boolean => isType('AppendEntries', to)(message);

describe('the tail of the log under load', () => {
  it('goes out at once while fewer appends than the tail window are unanswered', () => {
    const cluster = leaderOfThree({ maxInflightTailMessages: 2 });
    expect(propose(cluster, 'a').map((message) => message.entries.length)).toEqual([1]);
    expect(propose(cluster, 'b').map((message) => message.entries.length)).toEqual([1]);
  });

  it('waits while the tail window is full, and travels as one append with the next answer', () => {
    const cluster = leaderOfThree({ maxInflightTailMessages: 2 });
    propose(cluster, 'a');
    propose(cluster, 'b');
    // Two appends to n2 unanswered: the next three entries wait.
    for (const id of ['c', 'd', 'e']) expect(propose(cluster, id)).toEqual([]);
    const first = cluster.drop(appendsFor('n2'))[0]!;
    const answer = appendsTo('n2')(cluster.input('n2', (core) => core.receive('n1', first.message)));
    expect(answer).toEqual([]);
    // n2's answer to the first append frees a slot: everything that waited goes out together.
    const response = cluster.drop(isType('AppendEntriesResponse', 'n1'))[0]!;
    const sent = appendsTo('n2')(cluster.input('n1', (core) => core.receive('n2', response.message)));
    expect(sent.map((message) => message.entries.map((entry) => entry.data))).toEqual([['"c"', '"d"', '"e"']]);
  });

  it('never holds back full messages: a follower catching up gets them up to the in-flight window', () => {
    const cluster = leaderOfThree({ maxInflightTailMessages: 1, maxInflightMessages: 4, maxEntriesPerMessage: 2 });
    propose(cluster, 'a');
    const sent = appendsTo('n2')(cluster.input('n1', (core) => core.propose(['b', 'c', 'd', 'e', 'f', 'g'].map((id) => ({ id, data: `"${id}"` })))));
    // One append in flight already: the full messages go (2 + 2 + 2 entries, up to 4 in flight), no tail is left.
    expect(sent.map((message) => message.entries.length)).toEqual([2, 2, 2]);
  });

  it('is sent again by the heartbeat when the append it waited behind was lost', () => {
    const cluster = leaderOfThree({ maxInflightTailMessages: 1 });
    propose(cluster, 'a');
    expect(propose(cluster, 'b')).toEqual([]);
    cluster.drop(appendsFor('n2'));
    cluster.input('n1', (core) => core.heartbeatDue());
    cluster.input('n1', (core) => core.heartbeatDue());
    cluster.deliver();
    expect(cluster.core('n2').status().lastIndex).toBe(cluster.core('n1').status().lastIndex);
  });
});

describe('appends bounded in bytes (RaftConfig.maxBytesPerMessage)', () => {
  const proposeAll = (cluster: CoreCluster, data: readonly string[]): AppendEntries[] =>
    appendsTo('n2')(cluster.input('n1', (core) => core.propose(data.map((text, at) => ({ id: `p${at}`, data: text })))));

  it('cut a follower\'s entries into messages of at most that much command text; full ones are no tail', () => {
    const cluster = leaderOfThree({ maxBytesPerMessage: 10, maxInflightTailMessages: 1 });
    const sent = proposeAll(cluster, ['"aa"', '"bb"', '"cc"', '"dd"', '"ee"']);
    // 4 characters each: two entries (8) fit in 10, a third would not. Both full messages go at once (the tail rule
    // holds back only what would not fill one); the last entry is a tail and waits for an answer.
    expect(sent.map((message) => message.entries.map((entry) => entry.data))).toEqual([['"aa"', '"bb"'], ['"cc"', '"dd"']]);
    cluster.deliver();
    expect(cluster.core('n2').status().lastIndex).toBe(cluster.core('n1').status().lastIndex);
  });

  it('send an entry larger than the bound alone, never none', () => {
    const cluster = leaderOfThree({ maxBytesPerMessage: 10 });
    const large = `"${'x'.repeat(50)}"`;
    const sent = proposeAll(cluster, [large, '"a"']);
    expect(sent.map((message) => message.entries.map((entry) => entry.data))).toEqual([[large], ['"a"']]);
    cluster.deliver();
    expect(cluster.core('n2').status().lastIndex).toBe(cluster.core('n1').status().lastIndex);
  });
});
