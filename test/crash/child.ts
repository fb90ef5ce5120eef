/**
 * The process the crash test kills: a three-node cluster in one process, each node on its own directory on disk (n1
 * on a LevelLogStore, n2 and n3 on FileLogStores: every commit is on at least one file store, and either kind must
 * give back all it acknowledged), real timers, a snapshot every 1000 entries.
 *
 * `node --import tsx test/crash/child.ts <dataDir> <generation> [verify]`
 *
 * 1. Opens the three stores (a corrupted one prints `corrupt <message>` and exits 2).
 * 2. Waits for a leader, commits a barrier command, waits until every node has applied it, and prints
 *    `recovered <ranges>`: every command id the leader's state machine applied (Leader Completeness: every entry
 *    committed before the crash is in the new leader's log and precedes the barrier), then `snapshot <index>`, the
 *    smallest snapshot index of the three nodes. Exits 3 if the nodes disagree.
 * 3. Unless `verify`, prints `loading` and runs concurrent clients that propose unique ids and print `ack <id>` as each
 *    proposal resolves (committed and applied). It runs until killed, bounded by a deadline.
 *
 * Lines on a pipe are written synchronously on Linux, so an `ack` the parent reads was printed before the kill.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { FileLogStore } from '../../actors/log-store/FileLogStore.js';
import { LevelLogStore } from '../../actors/log-store/LevelLogStore.js';
import { createRaftNode, MemoryNetworkHub, StateMachine, StoreCorruptedError } from '../../src/index.js';

const [dataDir, generationText, mode] = process.argv.slice(2);
if (dataDir === undefined || generationText === undefined) throw new Error('usage: child.ts <dataDir> <generation> [verify]');
const generation = Number(generationText);
const members = ['n1', 'n2', 'n3'];
const clients = 48;
const deadline = Date.now() + 20_000;

const command = z.object({ id: z.number().int() });
type Command = z.infer<typeof command>;

class IdLedger extends StateMachine<Command, number> {
  ids: number[] = [];
  apply({ id }: Command): number {
    this.ids.push(id);
    return this.ids.length;
  }
  // Snapshots on, so that kills also land while a snapshot is written to its file, swapped in, or compacted behind.
  protected override snapshotValue(): unknown {
    return this.ids;
  }
  protected override restoreValue(value: unknown): void {
    this.ids = [...(value as number[])];
  }
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Compress a list of ids into sorted "a-b" ranges. */
function ranges(ids: readonly number[]): string {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

const stores = members.map((id) => {
  const options = { location: join(dataDir, id), identity: { clusterId: 'crash-test', nodeId: id, members } };
  // A small compaction threshold: kills land in the file stores' rewrites too.
  return id === 'n1' ? new LevelLogStore(options) : new FileLogStore({ ...options, compactionBytes: 16 * 1024 });
});
try {
  for (const store of stores) await store.open();
} catch (error) {
  if (error instanceof StoreCorruptedError) {
    print(`corrupt ${error.message}`);
    process.exit(2);
  }
  throw error;
}

const hub = new MemoryNetworkHub();
const ledgers = members.map(() => new IdLedger());
const nodes = members.map((id, i) =>
  createRaftNode({
    id,
    members,
    commandSchema: command,
    stateMachine: ledgers[i]!,
    network: hub.endpoint(id),
    logStore: stores[i]!,
    config: { electionTimeoutMs: 150, heartbeatIntervalMs: 30, snapshotThreshold: 1000, snapshotTrailingEntries: 100 },
  }),
);
for (const node of nodes) {
  node.on('stopped', ({ error }) => {
    if (error !== null) {
      print(`stopped ${node.id}: ${error}`);
      process.exit(4);
    }
  });
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
async function leader() {
  for (;;) {
    if (Date.now() > deadline) throw new Error('no leader before the deadline');
    const found = nodes.find((node) => node.status().role === 'leader');
    if (found !== undefined) return found;
    await pause(5);
  }
}

// Recovery check: a barrier committed in the new term follows every entry committed before the crash.
const barrier = -generation;
let barrierIndex = 0;
for (;;) {
  const current = await leader();
  try {
    await current.propose({ id: barrier });
    barrierIndex = current.status().commitIndex;
    break;
  } catch {
    await pause(5);
  }
}
while (!ledgers.every((ledger) => ledger.ids.includes(barrier))) {
  if (Date.now() > deadline) throw new Error('the barrier was not applied everywhere before the deadline');
  await pause(5);
}
const reference = ledgers[0]!.ids.slice(0, ledgers[0]!.ids.indexOf(barrier) + 1);
for (const ledger of ledgers) {
  const prefix = ledger.ids.slice(0, ledger.ids.indexOf(barrier) + 1);
  if (JSON.stringify(prefix) !== JSON.stringify(reference)) {
    print(`diverged at barrier index ${barrierIndex}`);
    process.exit(3);
  }
}
print(`recovered ${ranges(reference.filter((id) => id >= 0))}`);
// The smallest snapshot index of the three: above 0 once every node restarts from a snapshot plus its log tail.
print(`snapshot ${Math.min(...nodes.map((node) => node.status().snapshotIndex))}`);

if (mode === 'verify') {
  await Promise.all(nodes.map((node) => node.stop()));
  await Promise.all(stores.map((store) => store.close()));
  process.exit(0);
}

print('loading');
let sequence = 0;
async function client(): Promise<void> {
  while (Date.now() < deadline) {
    const current = await leader();
    const id = generation * 1_000_000 + sequence++;
    try {
      await current.propose({ id });
      print(`ack ${id}`);
    } catch {
      // Not leader, leadership lost, timeout: not acknowledged, so not promised; try the next id.
      await pause(2);
    }
  }
}
await Promise.all(Array.from({ length: clients }, client));
process.exit(0);
