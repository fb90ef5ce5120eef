/**
 * The inspector protocol: a node's `inspect` option gives any observer (an `@statelyai/inspect`-style inspector: an
 * object with `next`, or a function) the node's `@xstate.actor`, `@xstate.snapshot` and `@xstate.event` records; the
 * dashboard's feed consumes the same records, beside such an inspector.
 */
import { afterEach, describe, expect, test } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { MemoryNetworkHub } from '../../actors/network/MemoryNetwork.js';
import { createRaftNode, seededRandom } from '../../src/index.js';
import { combineInspectors, createNodeFeed, type FeedBatch } from '../../src/dashboard/index.js';
import { counterCommand, counterMachine, testConfig } from '../support/cluster.js';
import { waitFor } from '../network/support.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

describe('inspection', () => {
  test('an inspector receives the node actor, its snapshots and its events; the dashboard feed reads the same records', async () => {
    const records: InspectionEvent[] = [];
    // What @statelyai/inspect's inspectors give as `inspect`: an observer with `next`.
    const inspector = { next: (event: InspectionEvent) => void records.push(event) };
    const feed = createNodeFeed({ intervalMs: 20 });
    const node = createRaftNode({
      id: 'n1', members: ['n1'], commandSchema: counterCommand, stateMachine: counterMachine(), network: new MemoryNetworkHub().endpoint('n1'),
      config: testConfig, random: seededRandom(1), inspect: combineInspectors(inspector, feed.inspect),
    }); // prettier-ignore
    feed.attach(node);
    stops.push(() => (feed.close(), node.stop()));
    const batches: FeedBatch[] = [];
    feed.subscribe((batch) => batches.push(batch));
    node.campaign();
    await waitFor(() => node.status().role === 'leader', 'n1 leads');
    await node.propose({ op: 'add', by: 2 });

    const root = records.find((record) => record.type === '@xstate.actor')!;
    expect(root.actorRef.sessionId).toBe(root.rootId);
    const children = records.filter((record) => record.type === '@xstate.actor' && record.actorRef.sessionId !== record.rootId).map((record) => (record.actorRef as { id?: string }).id);
    expect(children).toEqual(expect.arrayContaining(['timer', 'network', 'logStore', 'stateMachine']));
    const states = records.filter((record) => record.type === '@xstate.snapshot' && record.actorRef.sessionId === record.rootId).map((record) => JSON.stringify((record as unknown as { snapshot: { value: unknown } }).snapshot.value));
    expect(states).toContain('{"running":"leader"}');
    const events = records.filter((record) => record.type === '@xstate.event').map((record) => (record as unknown as { event: { type: string } }).event.type);
    expect(events).toEqual(expect.arrayContaining(['xraft.campaign', 'xraft.propose', 'SaveLog', 'LogSaved', 'Applied']));

    const batch = await waitFor(() => batches.find((each) => each.view.role === 'leader' && each.view.commitIndex >= 2), 'a batch showing n1 leading');
    expect(batch).toMatchObject({ group: 'default', node: 'n1', view: { state: 'running.leader', term: node.status().term, up: true } });
    expect(batch.view.log.at(-1)).toMatchObject({ to: node.status().lastIndex, term: node.status().term });
    const seen = batches.flatMap((each) => each.inspections);
    expect(seen.some((record) => record.type === '@xstate.actor')).toBe(true);
    expect(seen.some((record) => record.type === '@xstate.snapshot' && record.state === 'running.leader')).toBe(true);
    expect(seen.some((record) => record.type === '@xstate.event' && record.event === 'xraft.propose')).toBe(true);
  });
});
