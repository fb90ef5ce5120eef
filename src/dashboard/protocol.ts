/**
 * What the dashboard page receives: one `FeedBatch` per node per flush interval, live over SSE or replayed from a
 * simulator recording. Everything names its Raft group (`group`, `'default'` for now), so that a process hosting many
 * groups (issue 18) feeds the same page with one batch per group.
 *
 * A batch carries the node's view (status and what its inspection events showed: votes, the leader's match and
 * next index per follower, the election timer), the messages it sent since the last batch (counted per peer and
 * type, never one record per message), and a bounded sample of its inspection records in the protocol that
 * `@statelyai/inspect` speaks (`@xstate.actor`, `@xstate.snapshot`, `@xstate.event`), reduced to what serializes.
 */

/** A run of consecutive log indexes with one term: the log strip, run-length encoded. */
export interface TermRun {
  readonly from: number;
  readonly to: number;
  readonly term: number;
}

export interface NodeView {
  readonly group: string;
  readonly id: string;
  /** False when the node's process or actor is down (the page greys it). */
  readonly up: boolean;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly votedFor: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  /** The statechart's active state as a dotted path (`running.leader`). */
  readonly state: string;
  /** Terms of the last entries of the log (at most `LOG_WINDOW` indexes), oldest first. */
  readonly log: readonly TermRun[];
  /** The election timer: armed `afterMs` ago `elapsedMs`; null when disarmed (leaders) or unknown. */
  readonly electionTimer: { readonly afterMs: number; readonly elapsedMs: number } | null;
  /** Votes granted to this node in `term` (pre-votes and votes). */
  readonly votes: { readonly term: number; readonly preVote: boolean; readonly granted: readonly string[] } | null;
  /** The leader's view of each follower: highest matching index and next index to send. */
  readonly progress: Readonly<Record<string, { readonly match: number; readonly next: number }>>;
  readonly members: readonly string[];
  readonly pending: number;
}

/** An inspection event reduced to what serializes and what the page shows. */
export interface InspectionRecord {
  readonly type: '@xstate.actor' | '@xstate.snapshot' | '@xstate.event';
  /** The actor the record is about: `node` for the node statechart, else the child's id (`network`, `timer`...). */
  readonly actor: string;
  readonly source?: string;
  /** For events: the event type, and a short summary (`AppendEntries from n2`). */
  readonly event?: string;
  readonly summary?: string;
  /** For snapshots: the state value as a dotted path. */
  readonly state?: string;
  readonly at: number;
}

export interface SentMessages {
  readonly to: string;
  readonly type: string;
  readonly count: number;
}

export interface FeedBatch {
  readonly group: string;
  readonly node: string;
  /** Wall-clock ms (live) or virtual ms (replay) when the batch was made. */
  readonly at: number;
  readonly view: NodeView;
  readonly sent: readonly SentMessages[];
  readonly inspections: readonly InspectionRecord[];
}

/** A node down (its process stopped): what the page shows instead of its last view. */
export function downView(group: string, id: string, members: readonly string[] = []): NodeView {
  return {
    group, id, up: false, role: 'down', term: 0, leader: null, votedFor: null, commitIndex: 0, appliedIndex: 0, lastIndex: 0,
    snapshotIndex: 0, state: 'down', log: [], electionTimer: null, votes: null, progress: {}, members, pending: 0,
  }; // prettier-ignore
}

/** Indexes of the log strip. */
export const LOG_WINDOW = 60;

/** A state value (`{ running: 'leader' }`) as a dotted path (`running.leader`); parallel regions joined by `,`. */
export function statePath(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || typeof value !== 'object') return String(value);
  return Object.entries(value as Record<string, unknown>)
    .map(([key, inner]) => {
      const rest = statePath(inner);
      return rest === '' || (typeof inner === 'object' && inner !== null && Object.keys(inner).length === 0) ? key : `${key}.${rest}`;
    })
    .join(',');
}

/** The terms of the entries `from..to` as runs, given a term lookup (undefined for compacted indexes). */
export function termRuns(from: number, to: number, termAt: (index: number) => number | undefined): TermRun[] {
  const runs: { from: number; to: number; term: number }[] = [];
  for (let index = Math.max(1, from); index <= to; index++) {
    const term = termAt(index);
    if (term === undefined) continue;
    const last = runs[runs.length - 1];
    if (last !== undefined && last.term === term && last.to === index - 1) last.to = index;
    else runs.push({ from: index, to: index, term });
  }
  return runs;
}
