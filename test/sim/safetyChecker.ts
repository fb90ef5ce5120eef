/**
 * The safety properties of Raft (paper, Figure 3), checked after every step of a simulated run, plus the promises
 * xraft makes to clients and to its log store.
 *
 * Every check is O(1) or proportional to what the step changed, because it runs after every event of hundreds of
 * thousands: logs are compared through the hash chains of `LogMirror`, and everything ever committed or applied is
 * recorded once, globally, by index.
 *
 * - Election Safety: at most one leader per term, over the whole history (whatever the configurations).
 * - Commit Quorum: when a leader advances its commit index, the entry there is durable on a majority of the voters of
 *   the configuration in force on that leader (before or after the step, which may itself append a configuration).
 * - Leader Append-Only: a leader never overwrites or removes entries of its log during its term.
 * - Log Matching: two entries with the same index and term have identical prefixes, in any log, at any time.
 * - Leader Completeness: an entry committed in term T is in the log of every leader of a term after T.
 * - State Machine Safety: no two nodes apply different entries at the same index.
 * - Client outcomes: an acknowledged write is never lost; a proposal failed as not-appended is never committed; no
 *   proposal is committed twice (a retried session request is a new proposal: that its (client, seq) is *applied*
 *   once is checked by the simulator's state machine, kvStateMachine.ts).
 * - Local monotonicity: on a running node the term, commit index and applied index never decrease and
 *   applied <= commit <= last; on disk the term never decreases and a durable vote is never changed within its term.
 * - Snapshots: a snapshot covers committed entries only (its last entry is the committed entry at its index), and a
 *   state machine restored from one (installed, or at a restart) holds exactly the state a replay of the committed
 *   log up to its index gives: the digest of a reference key-value state machine fed every committed entry once.
 *
 * Compacted logs: a log mirror starts at the snapshot it was last rebased on, with the chain hash of the committed
 * prefix there (vouched for by `snapshotChain`), so prefix checks below that point hold by construction and the ones
 * above it compare chains as before.
 */
import { decodeMembership, type Membership } from '../../src/core/membership.js';
import type { Entry, HardState, NodeId, SnapshotMeta } from '../../src/core/types.js';
import type { ClientLedger } from './clientLedger.js';
import { KvStateMachine } from './kvStateMachine.js';
import { SafetyViolation } from './safetyViolation.js';
import type { PersistEffect } from './simulatedDisk.js';
import type { SimHost } from './simHost.js';

interface NodeWatch {
  incarnation: number;
  term: number;
  commit: number;
  /** The state machine's applied index (entries applied one by one, or restored from a snapshot). */
  applied: number;
  /** While the node is leader: its term, and the last index and chain hash of its log at the previous check. */
  leaderTerm: number;
  leaderLastIndex: number;
  leaderChain: number;
  /** The voters in force on this node after its previous step. */
  voters: readonly NodeId[];
}

/** Entries are keyed by (index, term) packed into one number; terms stay far below 2^20 in any run. */
const TERM_SPACE = 0x100000;

export class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** (index, term) -> hash of the prefix ending at that entry, the first time any log held it. */
  private readonly prefixOfEntry = new Map<number, number>();
  /** committedChain[i]: hash of the committed prefix [1, i]; committedInTerm[i]: term in which i was first seen committed. */
  private readonly committedChain: number[] = [0];
  private readonly committedInTerm: number[] = [0];
  /** committedEntryTerm[i]: the term of the committed entry at index i. */
  private readonly committedEntryTerm: number[] = [0];
  /** Commands in the committed prefix, with their index: with no client retries, each may appear once. */
  private readonly committedCommand = new Map<string, number>();
  /** The `config` entries of the committed prefix, ascending by index. */
  private readonly committedConfigs: { readonly index: number; readonly membership: Membership }[] = [];
  /** The reference replay of the committed log, and the digest of its state after each index. */
  private readonly reference = KvStateMachine.reference();
  private readonly referenceDigest: number[] = [this.reference.digest()];
  private readonly appliedTerm: number[] = [0];
  private readonly appliedData: string[] = [''];
  private readonly watches = new Map<NodeId, NodeWatch>();
  private readonly byId = new Map<NodeId, SimHost>();

  constructor(
    private readonly nodes: readonly SimHost[],
    private readonly ledger: ClientLedger,
  ) {
    for (const node of nodes) this.byId.set(node.id, node);
  }

  /** The highest index known committed anywhere. */
  get committedIndex(): number {
    return this.committedChain.length - 1;
  }

  /** The index at which a command was committed, if it was. */
  committedIndexOf(data: string): number | undefined {
    return this.committedCommand.get(data);
  }

  /** The configuration of the committed prefix up to `index`: its last `config` entry, or `initial`. */
  committedMembership(index: number, initial: Membership): Membership {
    for (let i = this.committedConfigs.length - 1; i >= 0; i--) {
      if (this.committedConfigs[i]!.index <= index) return this.committedConfigs[i]!.membership;
    }
    return initial;
  }

  /** How many terms had a leader. */
  get leaderTermCount(): number {
    return this.leaderOfTerm.size;
  }

  /** Log Matching, as each write reaches a node's log: the first holder of an (index, term) fixes its prefix. */
  onLogWrite(node: SimHost, write: PersistEffect): void {
    if (write.entries.length === 0) return;
    this.checkLogMatching(node, write.entries[0]!.index, write.entries[write.entries.length - 1]!.index);
  }

  private checkLogMatching(node: SimHost, from: number, to: number): void {
    for (let index = from; index <= to; index++) {
      const term = node.mirror.termAt(index)!;
      const key = index * TERM_SPACE + term;
      const chain = node.mirror.chainAt(index)!;
      const known = this.prefixOfEntry.get(key);
      if (known === undefined) this.prefixOfEntry.set(key, chain);
      else if (known !== chain) {
        throw new SafetyViolation('Log Matching', `${node.id} holds entry (index ${index}, term ${term}) after a prefix that differs from another log's`);
      }
    }
  }

  /** State Machine Safety: the first node to apply an index fixes what every node applies there. */
  onApplied(node: SimHost, entries: readonly Entry[]): void {
    for (const entry of entries) {
      const term = this.appliedTerm[entry.index];
      if (term === undefined) {
        if (entry.index !== this.appliedTerm.length) throw new Error('applied indexes are recorded in order');
        this.appliedTerm.push(entry.term);
        this.appliedData.push(entry.data);
        this.reference.applyEntries([entry]);
        this.referenceDigest.push(this.reference.digest());
      } else if (term !== entry.term || this.appliedData[entry.index] !== entry.data) {
        throw new SafetyViolation(
          'State Machine Safety',
          `${node.id} applied (term ${entry.term}, '${entry.data}') at index ${entry.index}, another node applied (term ${term}, '${this.appliedData[entry.index]}')`,
        );
      }
    }
  }

  /**
   * A node's log starts over at a snapshot (installed, or recovered at a restart): the snapshot must end with the
   * committed entry at its index. Returns the hash of the committed prefix it covers.
   */
  snapshotChain(node: SimHost, meta: SnapshotMeta): number {
    if (meta.index > this.committedIndex || this.committedEntryTerm[meta.index] !== meta.term) {
      throw new SafetyViolation(
        'Snapshot Safety',
        `${node.id} holds a snapshot ending at (index ${meta.index}, term ${meta.term}), not a committed entry (committed up to ${this.committedIndex}${meta.index <= this.committedIndex ? `, term ${this.committedEntryTerm[meta.index]} there` : ''})`,
      );
    }
    return this.committedChain[meta.index]!;
  }

  /** A state machine restored from a snapshot holds what replaying the committed log up to its index gives. */
  onRestored(node: SimHost, meta: SnapshotMeta): void {
    const expected = this.referenceDigest[meta.index];
    if (expected === undefined) throw new Error(`the reference replay has not reached ${meta.index}`);
    if (node.kv.digest() !== expected) {
      throw new SafetyViolation('Snapshot Restore', `${node.id}'s state restored from snapshot ${meta.index} differs from a replay of the committed log up to ${meta.index}`);
    }
  }

  /** A write became durable: the durable term, vote and commit only move forward. */
  onWriteDurable(node: SimHost, previous: HardState, write: PersistEffect): void {
    const next = write.hardState;
    if (next.term < previous.term) {
      throw new SafetyViolation('Durable Term', `${node.id} persisted term ${next.term} over term ${previous.term}`);
    }
    if (next.term === previous.term && previous.votedFor !== null && next.votedFor !== previous.votedFor) {
      throw new SafetyViolation('Durable Vote', `${node.id} changed its durable vote in term ${next.term} from ${previous.votedFor} to ${next.votedFor}`);
    }
    if (next.commit < previous.commit) {
      throw new SafetyViolation('Durable Commit', `${node.id} persisted commit ${next.commit} over ${previous.commit}`);
    }
    if (next.commit > node.disk.lastIndex) {
      throw new SafetyViolation('Durable Commit', `${node.id} persisted commit ${next.commit} beyond its durable log (${node.disk.lastIndex})`);
    }
  }

  /** Everything that can be checked on one node after it handled an input. */
  afterStep(node: SimHost): void {
    const core = node.core;
    if (core === null) return;
    const watch = this.watchFor(node);
    const term = core.term;
    const commit = core.commitIndex;
    const lastIndex = core.lastIndex;
    const mirror = node.mirror;

    if (mirror.lastIndex !== lastIndex || mirror.termAt(lastIndex) !== core.termAt(lastIndex)) {
      throw new SafetyViolation(
        'Persist Contract',
        `${node.id}'s log ends at (${lastIndex}, term ${core.termAt(lastIndex)}) but its persist effects describe (${mirror.lastIndex}, term ${mirror.termAt(mirror.lastIndex)})`,
      );
    }
    if (term < watch.term) throw new SafetyViolation('Term Monotonic', `${node.id} went from term ${watch.term} back to ${term}`);
    if (commit < watch.commit) throw new SafetyViolation('Commit Monotonic', `${node.id}'s commit went from ${watch.commit} back to ${commit}`);
    if (commit > lastIndex) throw new SafetyViolation('Commit Bound', `${node.id} committed ${commit} beyond its last index ${lastIndex}`);
    if (core.appliedIndex > commit || node.stateMachine.lastApplied > commit) {
      throw new SafetyViolation('Applied Bound', `${node.id} applied ${Math.max(core.appliedIndex, node.stateMachine.lastApplied)} beyond its commit ${commit}`);
    }
    const applied = node.stateMachine.lastApplied;
    if (applied < watch.applied) throw new SafetyViolation('Applied Monotonic', `${node.id}'s applied index went from ${watch.applied} back to ${applied}`);
    watch.applied = applied;
    const voters = core.members.voters;
    if (core.role === 'leader' && commit > watch.commit) this.checkCommitQuorum(node, commit, watch.voters, voters);
    watch.term = term;
    watch.commit = commit;
    watch.voters = voters;

    // Every node's committed prefix must be the one committed prefix of the cluster.
    this.checkCommittedPrefix(node, commit, term);

    if (core.role === 'leader') {
      const leader = this.leaderOfTerm.get(term);
      if (leader === undefined) this.leaderOfTerm.set(term, node.id);
      else if (leader !== node.id) {
        throw new SafetyViolation('Election Safety', `${node.id} and ${leader} were both leader in term ${term}`);
      }
      if (watch.leaderTerm !== term) {
        this.checkLeaderCompleteness(node, term);
      } else if (lastIndex < watch.leaderLastIndex || mirror.chainAt(watch.leaderLastIndex) !== watch.leaderChain) {
        throw new SafetyViolation('Leader Append-Only', `${node.id}, leader in term ${term}, rewrote its log at or below index ${watch.leaderLastIndex}`);
      }
      watch.leaderTerm = term;
      watch.leaderLastIndex = lastIndex;
      watch.leaderChain = mirror.chainAt(lastIndex)!;
    } else {
      watch.leaderTerm = 0;
    }
  }

  /**
   * After the heal: every acknowledged command is in the applied state of every node (of `nodes`: the members). A
   * node's applied state is the committed prefix up to its applied index (State Machine Safety, and the restore
   * check for the part that came from a snapshot), so it holds a command iff that reaches the command's index.
   */
  checkNoAcknowledgedWriteLost(nodes: readonly SimHost[] = this.nodes): void {
    const acknowledged = this.ledger.acknowledgedCommands();
    for (const node of nodes) {
      const applied = node.stateMachine.lastApplied;
      for (const data of acknowledged) {
        const index = this.committedCommand.get(data);
        if (index === undefined || index > applied) {
          throw new SafetyViolation('Acknowledged Write Lost', `${node.id} never applied acknowledged command ${data} (committed at ${index ?? 'never'}, applied up to ${applied})`);
        }
        // Applied one by one (not restored from a snapshot): it must be in the record.
        if (index > node.stateMachine.snapshotIndex && node.stateMachine.applied[index - node.stateMachine.snapshotIndex - 1]?.data !== data) {
          throw new SafetyViolation('Acknowledged Write Lost', `${node.id} applied something else than acknowledged command ${data} at ${index}`);
        }
      }
    }
  }

  private checkCommittedPrefix(node: SimHost, commit: number, term: number): void {
    const known = this.committedIndex;
    const shared = Math.min(commit, known);
    if (node.mirror.chainAt(shared) !== this.committedChain[shared]) {
      throw new SafetyViolation('State Machine Safety', `${node.id}'s committed prefix up to ${shared} differs from the cluster's committed prefix`);
    }
    if (commit <= known) return;
    for (let index = known + 1; index <= commit; index++) {
      this.committedChain.push(node.mirror.chainAt(index)!);
      this.committedInTerm.push(term);
      this.committedEntryTerm.push(node.mirror.termAt(index)!);
      const data = node.mirror.dataAt(index)!;
      if (node.mirror.kindAt(index) === 'config') this.committedConfigs.push({ index, membership: decodeMembership(data) });
      if (node.mirror.kindAt(index) === 'command') {
        if (this.committedCommand.has(data)) {
          throw new SafetyViolation('Duplicate Commit', `command ${data} committed twice (again at ${index})`);
        }
        this.committedCommand.set(data, index);
        this.ledger.committed(data, index);
      }
    }
    // A leader of a later term that already exists must hold what was just committed.
    for (const other of this.nodes) {
      if (other.core?.role === 'leader' && other.core.term > term) this.checkLeaderCompleteness(other, other.core.term);
    }
  }

  /** The entry a leader just committed is durable on a majority of the voters in force before or after the step. */
  private checkCommitQuorum(node: SimHost, commit: number, before: readonly NodeId[], after: readonly NodeId[]): void {
    const term = node.mirror.termAt(commit);
    const stored = (voters: readonly NodeId[]) => voters.filter((id) => this.byId.get(id)?.disk.durableTermAt(commit) === term).length;
    const quorum = (voters: readonly NodeId[]) => voters.length > 0 && stored(voters) >= Math.floor(voters.length / 2) + 1;
    if (!quorum(before) && !quorum(after)) {
      throw new SafetyViolation(
        'Commit Quorum',
        `${node.id} committed index ${commit} (term ${term}) stored durably on ${stored(after)} of its voters ${after.join(',')} only`,
      );
    }
  }

  /** The log of a leader of `term` holds every entry committed in an earlier term. */
  private checkLeaderCompleteness(node: SimHost, term: number): void {
    let index = this.committedIndex;
    while (index > 0 && this.committedInTerm[index]! >= term) index--;
    // Below the snapshot its log starts from, the log is the committed prefix by construction (snapshotChain).
    if (index < node.mirror.firstKnownIndex) return;
    if (node.mirror.chainAt(index) !== this.committedChain[index]) {
      throw new SafetyViolation(
        'Leader Completeness',
        `${node.id}, leader in term ${term}, lacks the entries committed up to index ${index} (its log ends at ${node.mirror.lastIndex})`,
      );
    }
  }

  private watchFor(node: SimHost): NodeWatch {
    let watch = this.watches.get(node.id);
    if (watch === undefined || watch.incarnation !== node.incarnation) {
      // A restarted node may legitimately recover a lower commit and applied index than it had in memory.
      watch = { incarnation: node.incarnation, term: 0, commit: 0, applied: 0, leaderTerm: 0, leaderLastIndex: 0, leaderChain: 0, voters: node.core?.members.voters ?? [] };
      this.watches.set(node.id, watch);
      // What it recovered takes part in Log Matching like any write: a recovered log must be a log some node held.
      this.checkLogMatching(node, node.mirror.firstKnownIndex + 1, node.mirror.lastIndex);
    }
    return watch;
  }
}
