/**
 * What each of the runtime's effects becomes: a message to one of the node's actors, an event for observers, an event
 * the statechart raises to itself, or a call on the runtime (answering callers). One table for both ways an event is
 * handled: the statechart's `dispatch` action gives xstate's `enqueue` as the sink, the node's inbox (inbox.ts) gives
 * the actors themselves for the effects that cannot move the statechart (`laneEffects`).
 */
import type { LogStoreMessage, LogStoreReply } from '../../actors/log-store/LogStore.js';
import type { NetworkMessage, NetworkReply } from '../../actors/network/NetworkActor.js';
import type { StateMachineMessage, StateMachineReply } from '../../actors/state-machine/StateMachine.js';
import type { TimerMessage, TimerReply } from '../../actors/timer/TimerActor.js';
import type { NodeEmitted } from './machine.js';
import type { NodeRuntime } from './runtime.js';
import { isSnapshotCommand } from './snapshotFlow.js';
import type { NodeEffect } from './types.js';

/** The node's four actors by the names the statechart gives its children, with the messages each takes. */
export interface ChildMessages {
  readonly timer: TimerMessage;
  readonly network: NetworkMessage;
  readonly logStore: LogStoreMessage;
  readonly stateMachine: StateMachineMessage;
}

const childNames: Readonly<Record<keyof ChildMessages, string>> = { timer: 'timer', network: 'network', logStore: 'log store', stateMachine: 'state machine' };

/** Why a node stopped when one of its actors threw (on either path: the statechart's children, or the inbox's lane). */
export function childFailure(child: keyof ChildMessages, error: unknown): string {
  return `the ${childNames[child]} actor failed: ${error instanceof Error ? error.message : String(error)}`;
}

/** The replies each of the node's actors gives, by the same names. */
export interface ChildReplies<Result, AppError> {
  readonly timer: TimerReply;
  readonly network: NetworkReply;
  readonly logStore: LogStoreReply;
  readonly stateMachine: StateMachineReply<Result, AppError>;
}

/** Where the effects of one event go, in order. */
export interface EffectSink {
  toChild<Name extends keyof ChildMessages>(child: Name, message: ChildMessages[Name]): void;
  emit(event: NodeEmitted): void;
  /** An event for the statechart itself, handled after this one. */
  raise(event: { readonly type: 'xraft.fail'; readonly reason: string } | { readonly type: 'xraft.leaderKnown' }): void;
  call(work: () => void): void;
}

/**
 * The effects whose handling only sends to actors and answers callers: an event that leaves only these (and no change
 * of role or term) has nothing to show or change in the statechart.
 */
export const laneEffects: ReadonlySet<NodeEffect<unknown, unknown>['type']> = new Set([
  'persist',
  'send',
  'apply',
  'resetElectionTimer',
  'resetHeartbeatTimer',
  'cancelHeartbeatTimer',
  'proposalFailed',
  'readReady',
  'readFailed',
  'settle',
  'toLogStore',
  'toStateMachine',
]);

/** Hand the effects waiting in the runtime's outbox to `sink`, then the runtime's after-event work. */
export function performEffects<Command, Result, AppError>(runtime: NodeRuntime<Command, Result, AppError>, sink: EffectSink): void {
  const outbox = runtime.outbox;
  runtime.outbox = [];
  // Snapshot effects become store and state machine messages (rare: skip the copy on the hot path).
  const effects = outbox.some(isSnapshotCommand) ? outbox.flatMap((next) => (isSnapshotCommand(next) ? runtime.snapshotCommand(next) : [next])) : outbox;
  for (const effect of effects) {
    switch (effect.type) {
      case 'toLogStore':
        sink.toChild('logStore', effect.message);
        break;
      case 'toStateMachine':
        sink.toChild('stateMachine', effect.message);
        break;
      case 'fail':
        sink.raise({ type: 'xraft.fail', reason: effect.reason });
        break;
      case 'snapshot':
        sink.emit({ type: 'snapshot', how: effect.how, index: effect.meta.index, term: effect.meta.term });
        break;
      case 'persist':
        sink.toChild('logStore', { type: 'SaveLog', writeId: effect.writeId, hardState: effect.hardState, truncateFrom: effect.truncateFrom, entries: effect.entries, background: effect.background });
        break;
      case 'send':
        sink.toChild('network', { type: 'Send', to: effect.to, message: effect.message });
        break;
      case 'apply':
        sink.toChild('stateMachine', { type: 'Apply', entries: effect.entries, proposals: effect.proposals });
        break;
      case 'resetElectionTimer':
        sink.toChild('timer', { type: 'StartElectionTimer', afterMs: effect.afterMs, baseMs: runtime.electionTimeoutMs, leaderHeard: effect.leaderHeard === true });
        break;
      case 'resetHeartbeatTimer':
        sink.toChild('timer', { type: 'StartHeartbeatTimer', afterMs: effect.afterMs });
        break;
      case 'cancelHeartbeatTimer':
        sink.toChild('timer', { type: 'CancelHeartbeatTimer' });
        break;
      case 'proposalFailed':
        sink.call(() => runtime.waiters.failProposal(effect.id, effect.failure.leaderHint, effect.failure.outcome));
        break;
      case 'readReady':
        sink.call(() => runtime.readReady(effect.ids, effect.index));
        break;
      case 'readFailed':
        sink.call(() => runtime.waiters.failReads(effect.ids, effect.leaderHint));
        break;
      case 'settle':
        sink.call(() => runtime.waiters.settle(effect.results));
        break;
      case 'roleChanged':
        sink.emit({ type: 'roleChanged', role: effect.role, term: effect.term });
        break;
      case 'leaderChanged':
        sink.call(() => runtime.leaderChanged(effect.leader));
        sink.emit({ type: 'leaderChanged', leader: effect.leader, term: effect.term });
        // Operations that failed for want of a leader (after this event's own failures are recorded) go again.
        if (effect.leader !== null) sink.raise({ type: 'xraft.leaderKnown' });
        break;
      case 'snapshotFailed':
        sink.call(() => runtime.snapshotFailed(effect.unsupported, effect.message));
        sink.emit({ type: 'snapshotFailed', index: effect.meta.index, message: effect.message, unsupported: effect.unsupported });
        break;
      case 'membershipChanged':
        if (effect.addresses !== undefined) sink.toChild('network', { type: 'SetPeerAddresses', addresses: effect.addresses });
        sink.emit({ type: 'membershipChanged', voters: effect.voters, learners: effect.learners, ...(effect.addresses === undefined ? {} : { addresses: effect.addresses }) });
        break;
      case 'transferAborted':
        sink.call(() => runtime.transferAborted(effect.reason));
        break;
      case 'refused':
        sink.emit({ type: 'refused', from: effect.from, messageType: effect.messageType, reason: effect.reason });
        break;
      case 'takeSnapshot':
      case 'compactLog':
      case 'readSnapshotChunk':
      case 'writeSnapshotChunk':
      case 'restoreSnapshot':
        break; // expanded above
    }
  }
  sink.call(() => runtime.afterEvent());
}
