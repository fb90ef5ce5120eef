/**
 * `npm start`: a live three-node xraft cluster in this process, on the memory network and real timers.
 *
 * It elects a leader, commits a stream of key-value writes, and every few seconds cuts the leader off from the
 * others so you can watch a new election and the old leader rejoin. Ctrl-C stops it.
 */
import { z } from 'zod';
import { createRaftNode, MemoryNetworkHub, NotLeaderError, StateMachine, type RaftNode } from '../src/index.js';

const command = z.object({ key: z.string().min(1), value: z.string(), at: z.date() });
type Command = z.infer<typeof command>;

/** The replicated state: a map from key to the last value written. */
class KeyValueStore extends StateMachine<Command, number> {
  readonly data = new Map<string, string>();
  apply({ key, value }: Command): number {
    this.data.set(key, value);
    return this.data.size;
  }
}

const ids = ['n1', 'n2', 'n3'];
const hub = new MemoryNetworkHub();
const stores = new Map<string, KeyValueStore>();
const nodes: RaftNode<Command, number>[] = ids.map((id) => {
  const stateMachine = new KeyValueStore();
  stores.set(id, stateMachine);
  const node = createRaftNode({
    id,
    members: ids,
    commandSchema: command,
    stateMachine,
    network: hub.endpoint(id),
    config: { electionTimeoutMs: 300, heartbeatIntervalMs: 50 },
  });
  node.on('roleChanged', ({ role, term }) => log(`${id} is ${role} (term ${term})`));
  return node;
});

const started = Date.now();
function log(line: string): void {
  console.log(`${((Date.now() - started) / 1000).toFixed(2).padStart(7)}s  ${line}`);
}

let committed = 0;
let refused = 0;
let sequence = 0;

/** A client: write a batch of keys through whichever node is leader. */
async function writeBatch(): Promise<void> {
  const leader = nodes.find((node) => node.status().role === 'leader');
  if (leader === undefined) return;
  const writes = Array.from({ length: 50 }, () => {
    sequence++;
    return leader.propose({ key: `key-${sequence % 100}`, value: `value-${sequence}`, at: new Date() });
  });
  for (const outcome of await Promise.allSettled(writes)) {
    if (outcome.status === 'fulfilled') committed++;
    else if (outcome.reason instanceof NotLeaderError) refused++;
    else throw outcome.reason;
  }
}

const writer = setInterval(() => void writeBatch(), 20);

const reporter = setInterval(() => {
  const leader = nodes.find((node) => node.status().role === 'leader');
  const applied = nodes.map((node) => `${node.id}@${node.status().appliedIndex}`).join(' ');
  log(`leader ${leader?.id ?? '-'}  committed ${committed} writes (${refused} refused)  applied ${applied}`);
}, 1000);

let isolated: string | null = null;
const chaos = setInterval(() => {
  if (isolated !== null) {
    hub.heal();
    log(`${isolated} reconnected`);
    isolated = null;
    return;
  }
  const leader = nodes.find((node) => node.status().role === 'leader');
  if (leader === undefined) return;
  isolated = leader.id;
  hub.isolate(leader.id);
  log(`${leader.id} (the leader) is cut off from the others`);
}, 4000);

log(`started ${ids.join(', ')}; Ctrl-C to stop`);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(writer);
  clearInterval(reporter);
  clearInterval(chaos);
  hub.heal();
  // Give the followers a moment (bounded) to apply the last writes before comparing replicas.
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline && new Set(nodes.map((node) => node.status().appliedIndex)).size > 1) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await Promise.all(nodes.map((node) => node.stop()));
  const states = [...stores.values()].map((store) => JSON.stringify([...store.data.entries()].sort()));
  log(`stopped; ${committed} writes committed; replicas ${new Set(states).size === 1 ? 'identical' : 'still converging'}`);
  process.exit(0);
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
if (process.env.XRAFT_DEMO_SECONDS !== undefined) setTimeout(() => void shutdown(), Number(process.env.XRAFT_DEMO_SECONDS) * 1000);
