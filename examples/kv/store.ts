/**
 * The replicated state of the key-value example: the keys and their values. (Where the nodes are is the framework's
 * business: the configuration in the log carries every member's raft address.)
 */
import { z } from 'zod';
import { StateMachine } from '../../src/index.js';

const key = z.string().min(1).max(1024);
export const kvCommand = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('put'), key, value: z.string() }),
  z.strictObject({ op: z.literal('append'), key, suffix: z.string() }),
  z.strictObject({ op: z.literal('delete'), key }),
]);
export type KvCommand = z.infer<typeof kvCommand>;

/** Applies a command and returns the key's value afterwards (null when absent). */
export class KvStore extends StateMachine<KvCommand, string | null> {
  readonly data = new Map<string, string>();

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
    }
  }

  protected override snapshotValue(): unknown {
    return { data: this.data };
  }

  protected override restoreValue(value: unknown): void {
    const { data } = value as { data: Map<string, string> };
    this.data.clear();
    for (const [name, text] of data) this.data.set(name, text);
  }
}
