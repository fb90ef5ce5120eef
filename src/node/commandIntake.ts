/**
 * Commands arriving from the leader are checked at the boundary: every command entry of an AppendEntries must decode
 * with the node's schema before the core sees it. One that does not was not proposed through any node of this
 * application, and a follower that stored it would skip it when applying while the others apply the leader's entry
 * there. Each command is decoded once: the state machine gets the decoded command back when it applies the entry. The
 * leader's own entries never arrive: their commands come from the callers that proposed them, when they can.
 *
 * The decoded commands wait in a queue ordered by log index, each with the entry object it arrived in: the core
 * appends those very objects and the state machine applies them in index order, so applying takes from the head.
 * A queued command is handed out only for its own entry object (an entry that replaced it after a conflict, or a
 * copy that arrived twice, is decoded again). Invariant: indexes increase from head to tail; everything at or below
 * an index being applied leaves the queue, so it holds at most the entries received and not yet applied (or
 * overwritten by a later arrival at the same index).
 */
import type { Entry } from '../core/index.js';
import type { CommandCodec } from '../codec.js';

interface Decoded<Command> {
  readonly entry: Entry;
  readonly command: Command;
}

export class CommandIntake<Command> {
  private queue: Decoded<Command>[] = [];
  /** Position of the queue's head in `queue` (taking from the head moves it; the array is compacted now and then). */
  private head = 0;

  constructor(
    private readonly codec: CommandCodec<Command>,
    /** A command this node proposed and decoded already (see CommandCodec.encodeWithDecoded), for its own entries. */
    private readonly proposedHere: (id: string, data: string) => { readonly command: Command } | undefined,
  ) {}

  /** Why one of `entries` cannot be accepted (a command that does not decode), or null; decodes and keeps the rest. */
  problem(entries: readonly Entry[]): string | null {
    const decoded: Decoded<Command>[] = [];
    for (const entry of entries) {
      // A session's registration (seq 0) carries no command: the state machine answers it without decoding.
      if (entry.kind !== 'command' || entry.session?.seq === 0) continue;
      try {
        decoded.push({ entry, command: this.codec.decode(entry.data) });
      } catch (error) {
        return `command entry ${entry.index} does not decode: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
    for (const item of decoded) {
      // What is queued at or after this index is superseded (a conflicting suffix, or an earlier copy).
      while (this.queue.length > this.head && this.queue[this.queue.length - 1]!.entry.index >= item.entry.index) this.queue.pop();
      this.queue.push(item);
    }
    return null;
  }

  /**
   * The state machine's decoder: the command decoded on arrival, or the one decoded when this node proposed it, or
   * (neither) decoded now.
   */
  readonly decode = (entry: Entry): Command => {
    const queue = this.queue;
    while (this.head < queue.length && queue[this.head]!.entry.index <= entry.index) {
      const item = queue[this.head++]!;
      if (item.entry === entry) {
        this.compact();
        return item.command;
      }
    }
    this.compact();
    const proposed = entry.id === undefined ? undefined : this.proposedHere(entry.id, entry.data);
    return proposed === undefined ? this.codec.decode(entry.data) : proposed.command;
  };

  /** Drop the consumed head of the queue once it is most of the array. */
  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
