/**
 * The replicated state of the key-value example: the keys and values, and every node's addresses.
 *
 * The address book is replicated like any key: a node added at run time is known to every node, including nodes
 * that start later (they replay the log), and the `onAddress` hook hands each address to the local network as it is
 * applied. Applying it again (a restart replays the log) changes nothing.
 */
import { z } from 'zod';
import { StateMachine } from '../../src/index.js';

const key = z.string().min(1).max(1024);
const hostPort = z.string().regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, 'expected host:port');
export const kvCommand = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('put'), key, value: z.string() }),
  z.strictObject({ op: z.literal('append'), key, suffix: z.string() }),
  z.strictObject({ op: z.literal('delete'), key }),
  /** Where node `id` listens: `raft` for its peers, `http` for clients. */
  z.strictObject({ op: z.literal('address'), id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/), raft: hostPort, http: hostPort }),
]);
export type KvCommand = z.infer<typeof kvCommand>;
export type NodeAddress = { readonly raft: string; readonly http: string };

/** Applies a command and returns the key's value afterwards (null when absent; `address` returns null). */
export class KvStore extends StateMachine<KvCommand, string | null> {
  readonly data = new Map<string, string>();
  readonly addresses = new Map<string, NodeAddress>();
  /** Called for every address applied or restored, in log order. */
  onAddress: (id: string, address: NodeAddress) => void = () => undefined;

  apply(command: KvCommand): string | null {
    switch (command.op) {
      case 'put':
        this.data.set(command.key, command.value);
        return command.value;
      case 'append': {
        const value = (this.data.get(command.key) ?? '') + command.suffix;
        this.data.set(command.key, value);
        return value;
      }
      case 'delete':
        this.data.delete(command.key);
        return null;
      case 'address': {
        const address = { raft: command.raft, http: command.http };
        this.addresses.set(command.id, address);
        this.onAddress(command.id, address);
        return null;
      }
    }
  }

  protected override snapshotValue(): unknown {
    return { data: this.data, addresses: this.addresses };
  }

  protected override restoreValue(value: unknown): void {
    const { data, addresses } = value as { data: Map<string, string>; addresses: Map<string, NodeAddress> };
    this.data.clear();
    for (const [name, text] of data) this.data.set(name, text);
    for (const [id, address] of addresses) this.apply({ op: 'address', id, ...address });
  }
}
