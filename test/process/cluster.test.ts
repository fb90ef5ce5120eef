/**
 * Three `xraft-node` processes on 127.0.0.1 over HTTP/2, each with its LevelDB log: elections, replication, a
 * SIGKILLed leader, SIGSTOPped followers and leaders, a restarted node catching up, and no acknowledged proposal
 * lost along the way. Every wait is bounded and on a real condition.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../network/support.js';
import { proposal, ProcessCluster, Writer, type NodeProcess } from './support.js';

let cluster: ProcessCluster;
let writer: Writer;

beforeAll(async () => {
  cluster = await ProcessCluster.start();
});

afterAll(async () => {
  await writer?.stop();
  await cluster?.stop();
});

const others = (node: NodeProcess): NodeProcess[] => cluster.nodes.filter((candidate) => candidate !== node);

/** Every proposal acknowledged so far is applied on every node. */
async function expectAllAckedEverywhere(): Promise<void> {
  const acked = [...writer.acked];
  await cluster.leader();
  // Each acknowledged entry was committed, so it is at or below the highest commit index any node knows of now.
  const commitIndex = Math.max(...(await cluster.statuses()).map((status) => status.commitIndex));
  await cluster.appliedEverywhere(commitIndex);
  for (const node of cluster.nodes) {
    const entries = await node.entries();
    const missing = acked.filter((key) => entries[key] !== key);
    expect(missing, `${node.id} misses acknowledged keys`).toEqual([]);
  }
}

describe('a cluster of three processes', () => {
  it('elects a leader and replicates proposals to every node', { timeout: 30_000 }, async () => {
    const leader = await cluster.leader();
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => leader.request('POST', '/xraft/v1/client/propose', proposal({ op: 'set', key: `first${i}`, value: `${i}` }))),
    );
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
    const { commitIndex } = (await leader.status())!;
    await cluster.appliedEverywhere(commitIndex);
    for (const node of cluster.nodes) expect((await node.entries()).first19).toBe('19');
    writer = new Writer(cluster, 'w');
    writer.start();
    await writer.progress(20);
  });

  it('survives a SIGKILLed leader without losing an acknowledged proposal, and the restarted node catches up', { timeout: 40_000 }, async () => {
    const old = await cluster.leader();
    await old.kill();
    const successor = await cluster.leader(others(old));
    expect(successor.id).not.toBe(old.id);
    await writer.progress(20);

    await old.start();
    await writer.progress(10);
    await expectAllAckedEverywhere();
  });

  it('survives a SIGSTOPped follower', { timeout: 30_000 }, async () => {
    const leader = await cluster.leader();
    const follower = others(leader)[0]!;
    follower.signal('SIGSTOP');
    try {
      await writer.progress(30); // the remaining majority commits
    } finally {
      follower.signal('SIGCONT');
    }
    await writer.progress(10);
    await expectAllAckedEverywhere();
  });

  it('survives a SIGSTOPped leader: the others elect a new one, and the old one steps down when it resumes', { timeout: 30_000 }, async () => {
    const old = await cluster.leader();
    const { term } = (await old.status())!;
    old.signal('SIGSTOP');
    let successor: NodeProcess;
    try {
      successor = await cluster.leader(others(old));
      await writer.progress(20);
    } finally {
      old.signal('SIGCONT');
    }
    expect(successor.id).not.toBe(old.id);
    const resumed = await cluster.leader();
    expect((await resumed.status())!.term).toBeGreaterThan(term);
    await writer.progress(10);
    await writer.stop();
    await expectAllAckedEverywhere();
    expect(writer.acked.length).toBeGreaterThan(100);
  });

  it('shuts down gracefully on SIGTERM and keeps its log', { timeout: 30_000 }, async () => {
    const node = cluster.nodes[0]!;
    const before = (await node.status())!;
    expect(await node.stop()).toEqual({ code: 0, signal: null });
    expect(node.log).toContain('stopped');
    await node.start();
    await waitFor(async () => ((await node.status())?.lastIndex ?? 0) >= before.lastIndex, 'the log recovered from disk');
    await cluster.leader();
  });
});
