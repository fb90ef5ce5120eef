/**
 * The README's example, runnable: `npx tsx examples/quickstart.ts`.
 */
import { z } from 'zod';
import { createRaftNode, MemoryNetworkHub, StateMachine, type RaftNode } from '../src/index.js';

const command = z.object({ key: z.string(), value: z.string() });
type Command = z.infer<typeof command>;

class KeyValueStore extends StateMachine<Command, number> {
  readonly data = new Map<string, string>();
  apply({ key, value }: Command): number {
    this.data.set(key, value); // must be deterministic: every node applies the same commands in the same order
    return this.data.size;
  }
}

export async function quickstart(): Promise<number> {
  const hub = new MemoryNetworkHub(); // in-process; see the network actors for real transports
  const members = ['n1', 'n2', 'n3'];
  const nodes = members.map((id) =>
    createRaftNode({ id, members, commandSchema: command, stateMachine: new KeyValueStore(), network: hub.endpoint(id) }),
  );
  const leaderId = await nodes[0]!.whenLeader(); // once the first election is won
  const leader: RaftNode<Command, number, KeyValueStore> = nodes.find((node) => node.id === leaderId)!;
  const size = await leader.propose({ key: 'a', value: '1' }); // resolves once committed and applied
  await Promise.all(nodes.map((node) => node.stop()));
  return size;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log('keys after the write:', await quickstart());
