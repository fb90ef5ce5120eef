/**
 * A node's side of the dashboard: an xstate inspection observer (give `feed.inspect` to `createRaftNode`'s `inspect`
 * option) that turns the node's own inspection events into `FeedBatch`es, one per interval, for whoever subscribes.
 *
 * The observer does constant work per event (a counter, a map entry) and keeps nothing per entry: messages are
 * counted per peer and type, inspection records are sampled (at most `MAX_RECORDS` per batch), and the node's view
 * is read once per batch from `status()` and the core's read-only accessors. With no subscriber, no batch is made.
 */
import type { InspectionEvent, Observer } from 'xstate';
import type { RaftNode } from '../createRaftNode.js';
import type { RaftMessage } from '../core/index.js';
import { LOG_WINDOW, statePath, termRuns, type FeedBatch, type InspectionRecord, type NodeView } from './protocol.js';

const MAX_RECORDS = 40;

export interface NodeFeedOptions {
  /** The Raft group the node belongs to (default `'default'`). */
  readonly group?: string;
  /** Flush interval in ms (default 100). */
  readonly intervalMs?: number;
}

export interface NodeFeed {
  /** The observer for `createRaftNode({ inspect })`: plain `(event) => void`, as @statelyai/inspect's `inspect` is. */
  readonly inspect: (event: InspectionEvent) => void;
  /** Start reading the node's view (call once `createRaftNode` returned). */
  attach(node: RaftNode<any, any, any>): void;
  /** Receive a batch per interval; the first one at once. Returns the unsubscribe function. */
  subscribe(listener: (batch: FeedBatch) => void): () => void;
  /** The node's view now. */
  view(): NodeView | null;
  close(): void;
}

type AnyNode = RaftNode<unknown, unknown, unknown>;

/** What a node's actor children are called, by xstate session id. */
function actorName(ref: { readonly sessionId: string; readonly id?: string }, rootId: string): string {
  return ref.sessionId === rootId ? 'node' : (ref.id ?? ref.sessionId);
}

function summarize(type: string, event: Record<string, unknown>): string | undefined {
  if (type === 'Received') return `${(event.message as RaftMessage).type} from ${String(event.from)}`;
  if (type === 'Send') return `${(event.message as RaftMessage).type} to ${String(event.to)}`;
  if (type === 'xraft.propose') return `${(event.proposals as unknown[]).length} proposal(s)`;
  if (type === 'SaveLog') return `${(event.entries as unknown[]).length} entries`;
  if (type === 'StartElectionTimer') return `${Math.round(event.afterMs as number)} ms`;
  return undefined;
}

export function createNodeFeed(options: NodeFeedOptions = {}): NodeFeed {
  const group = options.group ?? 'default';
  const intervalMs = options.intervalMs ?? 100;
  let node: AnyNode | null = null;
  let state = 'recovering';
  const sent = new Map<string, { to: string; type: string; count: number }>();
  let records: InspectionRecord[] = [];
  let dropped = 0;
  let timer: { armedAt: number; afterMs: number } | null = null;
  let votes: { term: number; preVote: boolean; granted: Set<string> } | null = null;
  const progress = new Map<string, { match: number; next: number }>();
  let progressTerm = -1;
  const listeners = new Set<(batch: FeedBatch) => void>();
  let interval: NodeJS.Timeout | null = null;

  const keep = (record: InspectionRecord): void => {
    if (records.length < MAX_RECORDS) records.push(record);
    else dropped++;
  };

  const received = (from: string, message: RaftMessage): void => {
    if (message.type === 'RequestVoteResponse' && message.granted) {
      const term = node?.status().term ?? 0;
      const votesTerm = message.preVote ? message.term : term;
      if (votes === null || votes.term !== votesTerm || votes.preVote !== message.preVote) votes = { term: votesTerm, preVote: message.preVote, granted: new Set() };
      votes.granted.add(from);
    } else if (message.type === 'AppendEntriesResponse' && message.success) {
      const known = progress.get(from);
      progress.set(from, { match: Math.max(known?.match ?? 0, message.index), next: Math.max(known?.next ?? 0, message.index + 1) });
    }
  };
  const sending = (to: string, message: RaftMessage): void => {
    const key = `${to} ${message.type}`;
    const counted = sent.get(key);
    if (counted === undefined) sent.set(key, { to, type: message.type, count: 1 });
    else counted.count++;
    if (message.type === 'AppendEntries') {
      if (progressTerm !== message.term) (progress.clear(), (progressTerm = message.term));
      const known = progress.get(to);
      progress.set(to, { match: known?.match ?? 0, next: message.prevLogIndex + message.entries.length + 1 });
    } else if (message.type === 'RequestVote') {
      const term = message.term;
      if (votes === null || votes.term !== term || votes.preVote !== message.preVote) votes = { term, preVote: message.preVote, granted: new Set() };
    }
  };

  const inspect = (inspection: InspectionEvent): void => {
    const at = Date.now();
    switch (inspection.type) {
      case '@xstate.actor':
        keep({ type: '@xstate.actor', actor: actorName(inspection.actorRef, inspection.rootId), at });
        return;
      case '@xstate.snapshot': {
        if (inspection.actorRef.sessionId !== inspection.rootId) return;
        const value = statePath((inspection.snapshot as { value?: unknown }).value);
        if (value !== state) keep({ type: '@xstate.snapshot', actor: 'node', state: value, at });
        state = value;
        return;
      }
      case '@xstate.event': {
        const event = inspection.event as { type: string } & Record<string, unknown>;
        const actor = actorName(inspection.actorRef, inspection.rootId);
        if (event.type === 'Received' && actor === 'node') received(String(event.from), event.message as RaftMessage);
        else if (event.type === 'Send') sending(String(event.to), event.message as RaftMessage);
        else if (event.type === 'StartElectionTimer') timer = { armedAt: at, afterMs: event.afterMs as number };
        // Heartbeat traffic is counted in `sent`; sample the rest.
        if (event.type === 'Send' || event.type === 'Received' || event.type === 'LogSaved' || event.type === 'SaveLog') {
          if (records.length >= MAX_RECORDS / 2) return void dropped++;
        }
        const source = inspection.sourceRef === undefined ? undefined : actorName(inspection.sourceRef, inspection.rootId);
        keep({ type: '@xstate.event', actor, source, event: event.type, summary: summarize(event.type, event), at });
        return;
      }
      default:
        return;
    }
  };

  const view = (): NodeView | null => {
    if (node === null) return null;
    const status = node.status();
    const core = node.actor.getSnapshot().context.runtime.core;
    const coreStatus = core?.status() ?? null;
    const now = Date.now();
    const leading = status.role === 'leader';
    return {
      group,
      id: status.id,
      up: status.role !== 'stopped',
      role: status.role,
      term: status.term,
      leader: status.leader,
      votedFor: coreStatus?.votedFor ?? null,
      commitIndex: status.commitIndex,
      appliedIndex: status.appliedIndex,
      lastIndex: status.lastIndex,
      snapshotIndex: status.snapshotIndex,
      state,
      log: core === null ? [] : termRuns(status.lastIndex - LOG_WINDOW + 1, status.lastIndex, (index) => core.termAt(index)),
      electionTimer: timer === null || leading ? null : { afterMs: timer.afterMs, elapsedMs: now - timer.armedAt },
      votes: votes === null ? null : { term: votes.term, preVote: votes.preVote, granted: [...votes.granted] },
      progress: leading && progressTerm === status.term ? Object.fromEntries(progress) : {},
      members: status.members,
      pending: node.actor.getSnapshot().context.runtime.waiters.size,
    };
  };

  const flush = (): void => {
    const current = view();
    if (current === null) return;
    if (dropped > 0) records.push({ type: '@xstate.event', actor: 'node', event: `(${dropped} more)`, at: Date.now() });
    const batch: FeedBatch = { group, node: current.id, at: Date.now(), view: current, sent: [...sent.values()], inspections: records };
    sent.clear();
    records = [];
    dropped = 0;
    for (const listener of listeners) listener(batch);
  };

  return {
    inspect,
    attach(attached) {
      if (node !== null) throw new Error('createNodeFeed: attach() takes one node');
      node = attached as AnyNode;
    },
    subscribe(listener) {
      listeners.add(listener);
      const current = view();
      if (current !== null) listener({ group, node: current.id, at: Date.now(), view: current, sent: [], inspections: [] });
      interval ??= setInterval(flush, intervalMs).unref();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && interval !== null) (clearInterval(interval), (interval = null));
      };
    },
    view,
    close() {
      listeners.clear();
      if (interval !== null) clearInterval(interval);
      interval = null;
    },
  };
}

/** Combine inspection observers (e.g. the dashboard's feed and @statelyai/inspect's) into one `inspect` option. */
export function combineInspectors(
  ...inspectors: readonly (Observer<InspectionEvent> | ((event: InspectionEvent) => void) | undefined)[]
): (event: InspectionEvent) => void {
  const present = inspectors.filter((inspector) => inspector !== undefined);
  return (event) => {
    for (const inspector of present) {
      if (typeof inspector === 'function') inspector(event);
      else inspector.next?.(event);
    }
  };
}
