/**
 * A short Jepsen-style run as part of `npm test`: the KV example as three real processes on their own test hosts,
 * every fault kind, and the history checked. Longer runs: `npm run jepsen -- --time 60`.
 */
import { expect, test } from 'vitest';
import { kvNodeCommand } from './kvNodeCommand.js';
import { runJepsen } from './runJepsen.js';

test('under kills, pauses, partitions and restarts, clients see a linearizable history and no acknowledged write is lost', async () => {
  const seed = Number(process.env.XRAFT_JEPSEN_SEED ?? Math.floor(Math.random() * 2 ** 31));
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
}, 120_000);
