/**
 * Membership schedules for the simulator (issue 6's acceptance): the cluster changes shape while every fault keeps
 * happening, and every safety check (plus linearizability) must keep holding.
 *
 * A schedule is a list of goals, reached one after another through `RaftCore.changeMembership` on whichever node
 * leads at the time:
 *
 * - `add`: add a fresh node as a learner with `promoteWhenCaughtUp`; it becomes a voter once it has caught up. When the
 *   leader that was asked is gone (its promotion intent went with it), the next leader is asked to promote.
 * - `remove`: remove a member; `removeLeader` removes whoever leads when the goal comes up.
 *
 * Progress is read from the leader's *committed* configuration (the last `config` entry at or below its commit index),
 * which never rolls back, so a goal counts as reached only once no later leader can undo it. A change refused with
 * MembershipChangeError (another change in flight, no entry of the leader's term committed yet) is simply tried again
 * at the next tick.
 *
 * Removed nodes are decommissioned: left running for a seeded while after their removal commits (long enough to
 * campaign with a stale configuration and test the disruptive-server defences), then stopped for good. Clients never
 * talk to a decommissioned node.
 */
import type { Membership, MembershipChange } from '../../src/core/membership.js';
import type { RaftCore } from '../../src/core/raft.js';
import type { NodeId } from '../../src/core/types.js';

const nodeIds = (count: number): NodeId[] => Array.from({ length: count }, (_, i) => `n${i + 1}`);

export type MembershipScheduleName = 'grow-shrink' | 'replace-all' | 'remove-leader';
export const membershipSchedules: readonly MembershipScheduleName[] = ['grow-shrink', 'replace-all', 'remove-leader'];

export type MembershipGoal =
  | { readonly type: 'add'; readonly id: NodeId }
  | { readonly type: 'remove'; readonly id: NodeId }
  | { readonly type: 'removeLeader' };

export interface ScheduleShape {
  /** Every node the run needs: the initial voters first, then the nodes that join. */
  readonly ids: readonly NodeId[];
  readonly initialVoters: readonly NodeId[];
  readonly goals: readonly MembershipGoal[];
}

/** The nodes and goals of a schedule for a cluster that starts with `voters` voters. */
export function scheduleShape(name: MembershipScheduleName | 'none', voters: number): ScheduleShape {
  const initial = nodeIds(voters);
  const fresh = (k: number) => `n${voters + k}`;
  switch (name) {
    case 'none':
      return { ids: initial, initialVoters: initial, goals: [] };
    case 'grow-shrink':
      // 3 -> 5 voters and back to 3: one original and one newcomer leave.
      return {
        ids: nodeIds(voters + 2),
        initialVoters: initial,
        goals: [{ type: 'add', id: fresh(1) }, { type: 'add', id: fresh(2) }, { type: 'remove', id: 'n1' }, { type: 'remove', id: fresh(1) }],
      };
    case 'replace-all':
      // Every member is replaced, one by one: add a newcomer, then remove an original.
      return {
        ids: nodeIds(2 * voters),
        initialVoters: initial,
        goals: initial.flatMap((id, i): MembershipGoal[] => [{ type: 'add', id: fresh(i + 1) }, { type: 'remove', id }]),
      };
    case 'remove-leader':
      return {
        ids: nodeIds(voters + 2),
        initialVoters: initial,
        goals: [{ type: 'add', id: fresh(1) }, { type: 'removeLeader' }, { type: 'add', id: fresh(2) }, { type: 'removeLeader' }],
      };
  }
}

/** What the schedule may do to the simulation. */
export interface MembershipHost {
  readonly now: number;
  /** Run a change on the leader, through its node; false when the leader refused it at once (MembershipChangeError). */
  change(leader: NodeId, id: string, change: MembershipChange, promoteWhenCaughtUp: boolean): boolean;
  /** How long to wait after a goal is reached before working on the next, so that changes spread over the run. */
  pauseAfterGoalMs(): number;
  /** A removal committed: stop that node for good, some time from now. */
  decommission(id: NodeId): void;
  /**
   * The configuration `leader` has committed: that of the last `config` entry at or below its commit index. Looked up
   * in the cluster's committed prefix (the safety checker's record), because the leader's own log may have compacted
   * that entry away.
   */
  committedMembership(leader: RaftCore): Membership;
  record(line: string): void;
}

export class MembershipSchedule {
  private cursor = 0;
  /** The node a `removeLeader` goal resolved to, once it came up. */
  private resolved: NodeId | null = null;
  /** Who was asked to add (and auto-promote) the learner of the current goal, and in which term. */
  private askedToPromote: { leader: NodeId; term: number } | null = null;
  private nextChangeId = 1;
  /** No change is proposed before this time (a pause after the previous goal). */
  private resumeAt = 0;
  readonly reached: MembershipGoal[] = [];

  constructor(
    private readonly goals: readonly MembershipGoal[],
    private readonly initial: Membership,
    private readonly host: MembershipHost,
  ) {}

  get done(): boolean {
    return this.cursor >= this.goals.length;
  }

  get progress(): string {
    return `${this.cursor}/${this.goals.length}`;
  }

  /** One tick: look at the leader's committed configuration, advance past reached goals, push the current one. */
  tick(leader: RaftCore | undefined): void {
    if (leader === undefined || this.done) return;
    const committed = this.host.committedMembership(leader);
    while (!this.done && this.reachedIn(committed)) this.advance();
    if (this.done || this.host.now < this.resumeAt) return;
    const goal = this.goals[this.cursor]!;
    if (goal.type === 'removeLeader' && this.resolved === null) {
      this.resolved = leader.id;
      this.host.record(`membership: the leader to remove is ${leader.id}`);
    }
    const change = this.changeFor(goal, leader);
    if (change === null) return;
    const accepted = this.host.change(leader.id, `m${this.nextChangeId++}`, change, change.type === 'addLearner');
    if (accepted && change.type === 'addLearner') this.askedToPromote = { leader: leader.id, term: leader.term };
  }

  private changeFor(goal: MembershipGoal, leader: RaftCore): MembershipChange | null {
    const latest = leader.members;
    if (goal.type === 'add') {
      if (latest.learners.includes(goal.id)) {
        // Already a learner: the leader that was asked promotes it when it catches up; any other leader must be told.
        const asked = this.askedToPromote;
        if (asked !== null && asked.leader === leader.id && asked.term === leader.term) return null;
        return { type: 'promote', id: goal.id };
      }
      if (latest.voters.includes(goal.id)) return null;
      return { type: 'addLearner', id: goal.id };
    }
    const id = goal.type === 'remove' ? goal.id : this.resolved!;
    if (!latest.voters.includes(id) && !latest.learners.includes(id)) return null;
    return { type: 'remove', id };
  }

  private reachedIn(committed: Membership): boolean {
    const goal = this.goals[this.cursor]!;
    if (goal.type === 'add') return committed.voters.includes(goal.id);
    const id = goal.type === 'remove' ? goal.id : this.resolved;
    return id !== null && !committed.voters.includes(id) && !committed.learners.includes(id);
  }

  private advance(): void {
    const goal = this.goals[this.cursor]!;
    const concrete: MembershipGoal = goal.type === 'removeLeader' ? { type: 'remove', id: this.resolved! } : goal;
    this.reached.push(concrete);
    this.host.record(`membership: reached ${concrete.type} ${concrete.id} (${this.cursor + 1}/${this.goals.length})`);
    if (concrete.type === 'remove') this.host.decommission(concrete.id);
    this.cursor++;
    this.resumeAt = this.host.now + this.host.pauseAfterGoalMs();
    this.resolved = null;
    this.askedToPromote = null;
  }
}

