/**
 * Storage waits: issuing writes, tracking which log index each makes durable, and holding back the messages whose
 * meaning depends on durable state.
 *
 * Durability rule (Raft paper, Figure 2; lolraft's "Persistent States"): a message whose meaning depends on durable
 * state (a granted vote, an append acknowledgement, a vote request carrying our own vote) is held back until every
 * write issued before it has been reported durable. Writes complete in the order they were issued, so one write id
 * says how far the store has got.
 *
 * Invariant: `stable` (the durable index) never exceeds the log's last index, and never counts entries that a later
 * truncation replaced, whatever the writes issued before the truncation report.
 */
import type { CoreState } from './state.js';
import type { Entry, HardState, NodeId, RaftMessage } from './types.js';

export function hardState(core: CoreState): HardState {
  return { term: core.currentTerm, votedFor: core.votedFor, commit: core.commit };
}

/** Issue one atomic write of the current hard state, an optional truncation and new entries (see Effect `persist`). */
export function persist(core: CoreState, truncateFrom: number | null, entries: readonly Entry[], background = false): number {
  const writeId = core.nextWriteId++;
  if (truncateFrom !== null) {
    // The durable log beyond truncateFrom-1 no longer matches ours, whatever earlier writes report.
    core.stable = Math.min(core.stable, truncateFrom - 1);
    for (const write of core.pendingWrites) write.durableIndex = Math.min(write.durableIndex, truncateFrom - 1);
  }
  const durableIndex = entries.length > 0 ? entries[entries.length - 1]!.index : Math.min(core.stable, core.log.lastIndex);
  core.pendingWrites.push({ writeId, durableIndex });
  core.effects.push({ type: 'persist', writeId, hardState: hardState(core), truncateFrom, entries, ...(background ? { background } : {}) });
  return writeId;
}

/** Write the hard state alone (a new term, a vote). */
export function saveHardState(core: CoreState): number {
  return persist(core, null, []);
}

/** Send once every write issued so far is durable. */
export function reply(core: CoreState, to: NodeId, message: RaftMessage): void {
  const last = core.pendingWrites[core.pendingWrites.length - 1];
  if (last === undefined) core.send(to, message);
  else core.heldMessages.push({ afterWriteId: last.writeId, to, message });
}

/** Write `writeId` and every write before it are durable: advance the durable index, release what waited on them. */
export function writesDurable(core: CoreState, writeId: number): void {
  while (core.pendingWrites.length > 0 && core.pendingWrites[0]!.writeId <= writeId) {
    const write = core.pendingWrites.shift()!;
    core.stable = Math.max(core.stable, Math.min(write.durableIndex, core.log.lastIndex));
  }
  while (core.heldMessages.length > 0 && core.heldMessages[0]!.afterWriteId <= writeId) {
    const held = core.heldMessages.shift()!;
    core.effects.push({ type: 'send', to: held.to, message: held.message });
  }
}
