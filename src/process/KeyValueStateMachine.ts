/**
 * The built-in state machine of `xraft-node`: a string key-value map. Enough to test and benchmark a cluster of
 * processes; a real application passes its own `NodeProcessApp`.
 */
import { z } from 'zod';
import { StateMachine } from '../../actors/state-machine/StateMachine.js';

export const keyValueCommandSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('set'), key: z.string().min(1).max(1024), value: z.string().max(1_048_576) }),
  z.strictObject({ op: z.literal('delete'), key: z.string().min(1).max(1024) }),
]);
export type KeyValueCommand = z.infer<typeof keyValueCommandSchema>;

/** Applies `set` and `delete`; the result is the value the key held before (null when none). */
export class KeyValueStateMachine extends StateMachine<KeyValueCommand, string | null> {
  readonly data = new Map<string, string>();

  apply(command: KeyValueCommand): string | null {
    const previous = this.data.get(command.key) ?? null;
    if (command.op === 'set') this.data.set(command.key, command.value);
    else this.data.delete(command.key);
    return previous;
  }
}
