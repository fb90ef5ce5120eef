/**
 * A short Jepsen-style run as part of `npm test`: the KV example as three real processes on their own test hosts,
 * every fault kind, and the history checked. Longer runs: `npm run jepsen -- --time 60`. The seed comes from
 * XRAFT_SEED or the clock; it is printed at the start and leads every failure message (see test/support/seed.ts).
 */
import { expect, test } from 'vitest';
import { kvNodeCommand } from './kvNodeCommand.js';
import { runJepsen } from './runJepsen.js';
import { testSeed, withSeed } from '../support/seed.js';

test('under kills, pauses, partitions and restarts, clients see a linearizable history and no acknowledged write is lost', async () => {
  const run = testSeed('test/jepsen/jepsen.test.ts');
  await withSeed(run, () => jepsenRun(run.seed));
}, 120_000);

async function jepsenRun(seed: number): Promise<void> {
  const lines: string[] = [];
  const result = await runJepsen({
    timeSeconds: 30,
    faults: ['kill', 'pause', 'partition', 'restart'],
    nodes: 3,
    seed,
    nodeCommand: kvNodeCommand,
    log: (line) => lines.push(line),
  });
  const summary = `${result.operations} operations, ${result.acknowledged} acknowledged, ${result.faults} faults, snapshot indexes ${result.snapshotIndexes.join('/')} (${result.snapshotsInstalled} installed); partitions: ${result.partitions}`;
  expect(result.problems, `${summary}\nkept: ${result.directory}\nreplay: ${result.replay}\n${lines.join('\n')}`).toEqual([]);
  expect(result.acknowledgedWrites).toBeGreaterThan(50);
  expect(result.faults).toBeGreaterThanOrEqual(5);
  // The nodes snapshot every 200 entries (kvNodeCommand): compaction and InstallSnapshot ran under the faults too.
  expect(Math.min(...result.snapshotIndexes), summary).toBeGreaterThan(0);
}
