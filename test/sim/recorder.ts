/**
 * A recording of a simulated run for the dashboard's replay (`npm run sim -- --seed S --record FILE`): per step the
 * virtual time, the event (its trace lines), each node's view (the dashboard's `NodeView`: role, term, log summary,
 * commit and applied index, statechart state, votes, the leader's match and next index), the messages in flight and
 * the partitions. Only runs that ask for it pay for it: the simulator calls `onStep` only when it is given.
 */
import { writeFileSync } from 'node:fs';
import { LOG_WINDOW, statePath, termRuns, type NodeView } from '../../src/dashboard/protocol.js';
import type { NodeId, RaftMessage } from '../../src/core/types.js';
import type { SimOptions } from './simOptions.js';
import type { SimWorld } from './world.js';

export interface RecordedMessage {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly type: RaftMessage['type'];
  /** Virtual time the message was first seen in flight, and when it is due. */
  readonly sentAt: number;
  readonly deliverAt: number;
}

export interface RecordedStep {
  readonly step: number;
  readonly time: number;
  /** The trace lines of this step (what happened). */
  readonly event: readonly string[];
  readonly nodes: readonly NodeView[];
  readonly inFlight: readonly RecordedMessage[];
  /** Pairs of nodes that cannot reach each other (either direction blocked). */
  readonly partitions: readonly (readonly [NodeId, NodeId])[];
}

export interface SimRecording {
  readonly format: 'xraft-sim-recording';
  readonly version: 1;
  readonly seed: number;
  readonly options: Record<string, unknown>;
  readonly nodes: readonly NodeId[];
  readonly steps: RecordedStep[];
  /** Steps left out past `maxSteps`. */
  truncated: number;
}

/** What the recorder reads of the core beyond its public accessors: the leader's progress (read-only). */
interface ProgressPeek {
  readonly state?: { readonly progress?: ReadonlyMap<NodeId, { readonly matchIndex: number; readonly nextIndex: number }> };
}

const MAX_IN_FLIGHT = 60;

export class SimRecorder {
  readonly recording: SimRecording;
  private traceSeen = 0;
  /** Virtual time each scheduled event was first seen (sequence number -> time). */
  private readonly firstSeen = new Map<number, number>();
  /** Election timer arming first seen, per node: generation -> time. */
  private readonly timerSeen = new Map<string, { generation: number; at: number; due: number }>();
  /** Granted votes seen delivered, per candidate. */
  private readonly votes = new Map<NodeId, { term: number; preVote: boolean; granted: Set<NodeId> }>();

  constructor(seed: number, options: SimOptions, private readonly maxSteps = 20_000) {
    const { onStep: _onStep, ...plain } = options;
    this.recording = { format: 'xraft-sim-recording', version: 1, seed, options: plain as Record<string, unknown>, nodes: [], steps: [], truncated: 0 };
  }

  /** The hook to give as `SimOptions.onStep` (with `trace: true`). */
  readonly onStep = (world: SimWorld, step: number, trace: readonly string[] | undefined): void => {
    const lines = trace === undefined ? [] : trace.slice(this.traceSeen);
    this.traceSeen = trace?.length ?? 0;
    if (this.recording.nodes.length === 0) (this.recording.nodes as NodeId[]).push(...world.hosts.map((host) => host.id));
    if (this.recording.steps.length >= this.maxSteps) {
      this.recording.truncated++;
      return;
    }
    const now = world.queue.now;
    const inFlight: RecordedMessage[] = [];
    const liveSeqs = new Set<number>();
    for (const scheduled of world.queue.pending()) {
      liveSeqs.add(scheduled.seq);
      const event = scheduled.event;
      if (!this.firstSeen.has(scheduled.seq)) this.firstSeen.set(scheduled.seq, now);
      if (event.kind === 'deliver') {
        inFlight.push({ from: event.from, to: event.to, type: event.message.type, sentAt: this.firstSeen.get(scheduled.seq)!, deliverAt: scheduled.time });
      } else if (event.kind === 'timer' && event.timer === 'election' && event.host.incarnation === event.incarnation) {
        const known = this.timerSeen.get(event.host.id);
        if (known === undefined || known.generation < event.generation) this.timerSeen.set(event.host.id, { generation: event.generation, at: now, due: scheduled.time });
      }
    }
    for (const seq of this.firstSeen.keys()) if (!liveSeqs.has(seq)) this.firstSeen.delete(seq);
    for (const line of lines) this.noteVote(line);
    inFlight.sort((a, b) => a.deliverAt - b.deliverAt);

    const partitions: [NodeId, NodeId][] = [];
    const ids = world.hosts.map((host) => host.id);
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        if (world.network.isBlocked(ids[i]!, ids[j]!) || world.network.isBlocked(ids[j]!, ids[i]!)) partitions.push([ids[i]!, ids[j]!]);
      }
    }
    this.recording.steps.push({ step, time: now, event: lines.map((line) => line.replace(/^\d+\.\d+ /, '')), nodes: world.hosts.map((host) => this.viewOf(host, now)), inFlight: inFlight.slice(0, MAX_IN_FLIGHT), partitions });
  };

  private noteVote(line: string): void {
    // `recv n2->n1 VoteResp t3 granted`, as describe.ts writes it.
    const match = /recv (\S+)->(\S+) (Pre)?VoteResp t(\d+) granted/.exec(line);
    if (match === null) return;
    const [, voter, candidate, pre, term] = match;
    const known = this.votes.get(candidate!);
    const preVote = pre !== undefined;
    if (known === undefined || known.term !== Number(term) || known.preVote !== preVote) this.votes.set(candidate!, { term: Number(term), preVote, granted: new Set([voter!]) });
    else known.granted.add(voter!);
  }

  private viewOf(host: SimWorld['hosts'][number], now: number): NodeView {
    const core = host.up ? host.core : null;
    if (core === null) {
      return {
        group: 'default', id: host.id, up: host.up, role: host.up ? 'recovering' : 'down', term: 0, leader: null, votedFor: null,
        commitIndex: 0, appliedIndex: 0, lastIndex: 0, snapshotIndex: 0, state: host.up ? 'recovering' : 'down', log: [],
        electionTimer: null, votes: null, progress: {}, members: [], pending: 0,
      }; // prettier-ignore
    }
    const status = core.status();
    const timer = this.timerSeen.get(host.id);
    const progress: Record<NodeId, { match: number; next: number }> = {};
    if (core.role === 'leader') {
      for (const [peer, known] of (core as unknown as ProgressPeek).state?.progress ?? []) progress[peer] = { match: known.matchIndex, next: known.nextIndex };
    }
    const votes = this.votes.get(host.id);
    return {
      group: 'default',
      id: host.id,
      up: true,
      role: core.role,
      term: core.term,
      leader: core.leader,
      votedFor: status.votedFor,
      commitIndex: core.commitIndex,
      appliedIndex: core.appliedIndex,
      lastIndex: core.lastIndex,
      snapshotIndex: core.snapshotIndex,
      state: statePath(JSON.parse(host.state) as unknown),
      log: termRuns(core.lastIndex - LOG_WINDOW + 1, core.lastIndex, (index) => core.termAt(index)),
      electionTimer: timer === undefined || core.role === 'leader' || timer.due < now ? null : { afterMs: timer.due - timer.at, elapsedMs: now - timer.at },
      votes: votes === undefined ? null : { term: votes.term, preVote: votes.preVote, granted: [...votes.granted] },
      progress,
      members: core.members.voters,
      pending: 0,
    };
  }

  write(file: string): void {
    writeFileSync(file, JSON.stringify(this.recording));
  }
}
