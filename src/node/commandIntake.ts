/**
 * Commands arriving from the leader are checked at the boundary: every command entry of an AppendEntries must decode
 * with the node's schema before the core sees it. One that does not was not proposed through any node of this
 * application, and a follower that stored it would skip it when applying while the others apply the leader's entry
 * there. Each command is decoded once: the state machine gets the decoded command back when it applies the entry.
 *
 * Invariant: a decoded command is kept only until its entry is applied (or the entry is dropped: the map is weak).
 */
import type { Entry } from '../core/index.js';
import type { CommandCodec } from '../codec.js';

export class CommandIntake<Command> {
  private readonly decodedOnArrival = new WeakMap<Entry, Command>();

  constructor(private readonly codec: CommandCodec<Command>) {}

  /** Why one of `entries` cannot be accepted (a command that does not decode), or null; decodes and keeps the rest. */
  problem(entries: readonly Entry[]): string | null {
    for (const entry of entries) {
      // A session's registration (seq 0) carries no command: the state machine answers it without decoding.
      if (entry.kind !== 'command' || entry.session?.seq === 0 || this.decodedOnArrival.has(entry)) continue;
      try {
        this.decodedOnArrival.set(entry, this.codec.decode(entry.data));
      } catch (error) {
        return `command entry ${entry.index} does not decode: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    return null;
  }

  /** The state machine's decoder: the command decoded on arrival, or (the leader's own entries) decoded now. */
  readonly decode = (entry: Entry): Command => {
    if (!this.decodedOnArrival.has(entry)) return this.codec.decode(entry.data);
    const command = this.decodedOnArrival.get(entry) as Command;
    this.decodedOnArrival.delete(entry);
    return command;
  };
}
